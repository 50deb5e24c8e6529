// The socket helpers behind IO.Net.Sys and IO.Ring.connectTo (sockops.c, ops.h): addresses as
// the Lean API passes them (family 4 or 6, bytes in network order, port in host order), TCP
// sockets of either family, socket names and integer options, on real loopback sockets.
#include <gtest/gtest.h>

#include "test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "ops.h"

namespace {

const std::vector<uint8_t> v4 = { 127, 0, 0, 1 };
const std::vector<uint8_t> v6 = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };


TEST(SockAddr, MakeIpv4IsNetworkOrderBytesAndAHostOrderPort)
{
	lu_sockaddr a;
	ASSERT_EQ(lu_sockaddr_make(&a, 4, v4.data(), 4, 8080), (int)sizeof(sockaddr_in));
	EXPECT_EQ(a.sin.sin_family, AF_INET);
	EXPECT_EQ(a.sin.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
	EXPECT_EQ(a.sin.sin_port, htons(8080));
}

TEST(SockAddr, MakeIpv6)
{
	lu_sockaddr a;
	ASSERT_EQ(lu_sockaddr_make(&a, 6, v6.data(), 16, 443), (int)sizeof(sockaddr_in6));
	EXPECT_EQ(a.sin6.sin6_family, AF_INET6);
	EXPECT_EQ(memcmp(&a.sin6.sin6_addr, &in6addr_loopback, 16), 0);
	EXPECT_EQ(a.sin6.sin6_port, htons(443));
	EXPECT_EQ(a.sin6.sin6_flowinfo, 0u);
	EXPECT_EQ(a.sin6.sin6_scope_id, 0u);
}

TEST(SockAddr, MakeRefusesOtherFamiliesAndByteCounts)
{
	lu_sockaddr a;
	EXPECT_EQ(lu_sockaddr_make(&a, 4, v6.data(), 16, 1), -EINVAL);
	EXPECT_EQ(lu_sockaddr_make(&a, 6, v4.data(), 4, 1), -EINVAL);
	EXPECT_EQ(lu_sockaddr_make(&a, 4, v4.data(), 3, 1), -EINVAL);
	EXPECT_EQ(lu_sockaddr_make(&a, 5, v4.data(), 4, 1), -EINVAL);
	EXPECT_EQ(lu_sockaddr_make(&a, 0, nullptr, 0, 1), -EINVAL);
}

TEST(SockAddr, SplitInvertsMake)
{
	for (const std::vector<uint8_t> *bytes : { &v4, &v6 }) {
		unsigned family = bytes->size() == 4 ? 4 : 6;
		lu_sockaddr a;
		int len = lu_sockaddr_make(&a, family, bytes->data(), bytes->size(), 0x1234);
		uint8_t fam = 0, out[16] = {};
		uint16_t port = 0;
		ASSERT_EQ(lu_sockaddr_split(&a, (socklen_t)len, &fam, out, &port), (int)bytes->size());
		EXPECT_EQ(fam, family);
		EXPECT_EQ(port, 0x1234);
		EXPECT_EQ(memcmp(out, bytes->data(), bytes->size()), 0);
		// Too short for its family: not an address of ours.
		EXPECT_EQ(lu_sockaddr_split(&a, (socklen_t)len - 1, &fam, out, &port), -EAFNOSUPPORT);
	}
	lu_sockaddr u{};
	u.sa.sa_family = AF_UNIX;
	uint8_t fam, out[16];
	uint16_t port;
	EXPECT_EQ(lu_sockaddr_split(&u, sizeof(sockaddr_un), &fam, out, &port), -EAFNOSUPPORT);
}

TEST(TcpSocket, FamiliesAndBadFamily)
{
	EXPECT_EQ(lu_tcp_socket(5), -EINVAL);
	int fd = lu_tcp_socket(4);
	ASSERT_GE(fd, 3);
	EXPECT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	int type = 0, proto = 0;
	socklen_t len = sizeof type;
	getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
	len = sizeof proto;
	getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len);
	EXPECT_EQ(type, SOCK_STREAM);
	EXPECT_EQ(proto, IPPROTO_TCP);
	EXPECT_FALSE(fcntl(fd, F_GETFL) & O_NONBLOCK);
	close(fd);
}

// Bind to port 0, read the port back, connect, and see each end's name from the other.
void names_round_trip(unsigned family, const std::vector<uint8_t> &bytes)
{
	lu_sockaddr a, got;
	int len = lu_sockaddr_make(&a, family, bytes.data(), bytes.size(), 0);
	int l = lu_tcp_socket(family);
	ASSERT_GE(l, 0);
	ASSERT_EQ(lu_bind(l, &a.sa, (socklen_t)len), 0);
	ASSERT_EQ(lu_listen(l, 4), 0);
	// Not connected: no peer.
	EXPECT_EQ(lu_sock_name(l, true, &got), -ENOTCONN);
	uint8_t fam = 0, out[16];
	uint16_t port = 0;
	int n = lu_sock_name(l, false, &got);
	ASSERT_EQ(n, len);
	ASSERT_EQ(lu_sockaddr_split(&got, (socklen_t)n, &fam, out, &port), (int)bytes.size());
	EXPECT_EQ(fam, family);
	EXPECT_NE(port, 0);
	EXPECT_EQ(memcmp(out, bytes.data(), bytes.size()), 0);

	int c = lu_tcp_socket(family);
	lu_sockaddr to;
	lu_sockaddr_make(&to, family, bytes.data(), bytes.size(), port);
	ASSERT_EQ(lu_posix_ops.connect(c, &to.sa, (socklen_t)len), 0);
	int s = lu_posix_ops.accept(l, nullptr, nullptr, SOCK_CLOEXEC);
	ASSERT_GE(s, 0);
	uint16_t peer_port = 0, client_port = 0;
	n = lu_sock_name(s, true, &got);
	ASSERT_EQ(lu_sockaddr_split(&got, (socklen_t)n, &fam, out, &peer_port), (int)bytes.size());
	n = lu_sock_name(c, false, &got);
	ASSERT_EQ(lu_sockaddr_split(&got, (socklen_t)n, &fam, out, &client_port), (int)bytes.size());
	EXPECT_EQ(peer_port, client_port);
	n = lu_sock_name(c, true, &got);
	ASSERT_EQ(lu_sockaddr_split(&got, (socklen_t)n, &fam, out, &peer_port), (int)bytes.size());
	EXPECT_EQ(peer_port, port);
	for (int fd : { c, s, l })
		close(fd);
}

TEST(SockName, Ipv4)
{
	names_round_trip(4, v4);
}

TEST(SockName, Ipv6)
{
	if (!has_ipv6_loopback())
		GTEST_SKIP() << "no IPv6 loopback (::1) on this machine";
	names_round_trip(6, v6);
}

TEST(SockName, NotASocket)
{
	lu_sockaddr got;
	int p[2];
	ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
	EXPECT_EQ(lu_sock_name(p[0], false, &got), -ENOTSOCK);
	EXPECT_EQ(lu_sock_name(987654, true, &got), -EBADF);
	close(p[0]);
	close(p[1]);
}

TEST(SockOpt, SetThenGetAnIntegerOption)
{
	int fd = lu_tcp_socket(4);
	int v = -1;
	ASSERT_EQ(lu_sockopt_get(fd, SOL_SOCKET, SO_REUSEADDR, &v), 0);
	EXPECT_EQ(v, 0);
	ASSERT_EQ(lu_sockopt_set(fd, SOL_SOCKET, SO_REUSEADDR, 1), 0);
	ASSERT_EQ(lu_sockopt_get(fd, SOL_SOCKET, SO_REUSEADDR, &v), 0);
	EXPECT_EQ(v, 1);
	ASSERT_EQ(lu_sockopt_set(fd, IPPROTO_TCP, TCP_NODELAY, 1), 0);
	ASSERT_EQ(lu_sockopt_get(fd, IPPROTO_TCP, TCP_NODELAY, &v), 0);
	EXPECT_EQ(v, 1);
	EXPECT_EQ(lu_sockopt_set(fd, SOL_SOCKET, 987654, 1), -ENOPROTOOPT);
	EXPECT_EQ(lu_sockopt_get(987654, SOL_SOCKET, SO_REUSEADDR, &v), -EBADF);
	close(fd);
}

} // namespace
