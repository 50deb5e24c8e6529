// The echo server (echo.h) on real loopback sockets, under both backends: every byte comes back
// exactly, the io_uring form serves many connections at once on one thread while the POSIX
// form serves them one after the other, a reset client ends only its own connection, and the
// serve returns once max_connections have closed.  Every client socket has a receive timeout,
// so a server that stops answering fails the test instead of hanging it.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "echo.h"
#include "ops.h"
#include "test_util.h"

namespace {

using LuOps = struct lu_ops;

const int kTimeoutMs = 5000;

void set_timeout(int fd, int opt, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv);
}

// A server thread on 127.0.0.1, an ephemeral port, serving until max_connections have closed.
class Server {
public:
	Server(const LuOps *ops, unsigned max_connections, unsigned buf_size = 0)
	{
		fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in a = {};
		a.sin_family = AF_INET;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		socklen_t len = sizeof a;
		if (fd_ < 0 || bind(fd_, (struct sockaddr *)&a, sizeof a) < 0 ||
		    listen(fd_, 64) < 0 || getsockname(fd_, (struct sockaddr *)&a, &len) < 0)
			throw std::runtime_error("listen on 127.0.0.1 failed");
		port_ = ntohs(a.sin_port);
		struct lu_echo_opts o = {ops, max_connections, 0, buf_size};
		thread_ = std::thread([this, o] { result_ = lu_echo_serve(fd_, &o, &stats_); });
	}
	~Server()
	{
		if (thread_.joinable())
			join();
		close(fd_);
	}
	// A connected client socket with send and receive timeouts.
	int connect_client(int timeout_ms = kTimeoutMs) const
	{
		int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		set_timeout(c, SO_RCVTIMEO, timeout_ms);
		set_timeout(c, SO_SNDTIMEO, timeout_ms);
		struct sockaddr_in a = {};
		a.sin_family = AF_INET;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a.sin_port = htons(port_);
		if (connect(c, (struct sockaddr *)&a, sizeof a) < 0) {
			close(c);
			return -errno;
		}
		return c;
	}
	// The serve's result, once it returned (every test makes it return by itself).
	int join()
	{
		thread_.join();
		return result_;
	}
	int listen_fd() const { return fd_; }
	const lu_echo_stats &stats() const { return stats_; }

private:
	int fd_ = -1;
	uint16_t port_ = 0;
	int result_ = 1;
	lu_echo_stats stats_ = {};
	std::thread thread_;
};

bool send_all(int fd, const std::string &s)
{
	for (size_t put = 0; put < s.size();) {
		ssize_t n = send(fd, s.data() + put, s.size() - put, MSG_NOSIGNAL);
		if (n <= 0)
			return false;
		put += (size_t)n;
	}
	return true;
}

// Exactly `len` bytes, or fewer if the peer closed or the receive timed out.
std::string recv_exactly(int fd, size_t len)
{
	std::string s(len, '\0');
	size_t got = 0;
	while (got < len) {
		ssize_t n = recv(fd, &s[got], len - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	s.resize(got);
	return s;
}

class Echo : public testing::TestWithParam<const LuOps *> {
protected:
	const LuOps *ops() const { return GetParam(); }
	bool ring() const { return GetParam() == &lu_uring_ops; }
};

TEST_P(Echo, EverySizeComesBackExactly)
{
	const size_t sizes[] = {1, 100, 16 * 1024, 16 * 1024 + 1, 64 * 1024};
	// A small buffer makes each message take many recv/send rounds on the server.
	Server server(ops(), sizeof sizes / sizeof *sizes, 4096);
	unsigned seed = 1;
	uint64_t total = 0;
	for (size_t size : sizes) {
		int c = server.connect_client();
		ASSERT_GE(c, 0);
		std::string msg = random_bytes(size, seed++);
		ASSERT_TRUE(send_all(c, msg));
		EXPECT_EQ(recv_exactly(c, size), msg) << size << " bytes";
		shutdown(c, SHUT_WR);
		EXPECT_EQ(recv_exactly(c, 1), "") << "the server closes after the client's EOF";
		close(c);
		total += size;
	}
	EXPECT_EQ(server.join(), 0);
	EXPECT_EQ(server.stats().connections, sizeof sizes / sizeof *sizes);
	EXPECT_EQ(server.stats().bytes, total);
}

// 1 MiB streamed by one thread while another reads it back: more than the socket buffers hold,
// so the server must keep echoing while the client is still sending.
TEST_P(Echo, OneMebibyteStreamedWhileReadingBack)
{
	Server server(ops(), 1);
	int c = server.connect_client();
	ASSERT_GE(c, 0);
	std::string msg = random_bytes(1 << 20, 7);
	bool sent = false;
	std::thread sender([&] {
		for (size_t off = 0; off < msg.size(); off += 65536)
			if (!send_all(c, msg.substr(off, 65536)))
				return;
		sent = true;
		shutdown(c, SHUT_WR);
	});
	std::string back = recv_exactly(c, msg.size());
	sender.join();
	EXPECT_TRUE(sent);
	EXPECT_TRUE(back == msg) << "got " << back.size() << " bytes back";
	EXPECT_EQ(recv_exactly(c, 1), "");
	close(c);
	EXPECT_EQ(server.join(), 0);
	EXPECT_EQ(server.stats().bytes, msg.size());
}

// Thirty-two connections, one after the other, each echoed exactly; under POSIX never two
// open at once.
TEST_P(Echo, ThirtyTwoConnectionsOneAfterTheOther)
{
	Server server(ops(), 32);
	for (unsigned i = 0; i < 32; i++) {
		int c = server.connect_client();
		ASSERT_GE(c, 0);
		std::string msg = "connection " + std::to_string(i);
		ASSERT_TRUE(send_all(c, msg));
		EXPECT_EQ(recv_exactly(c, msg.size()), msg);
		close(c);
	}
	EXPECT_EQ(server.join(), 0);
	EXPECT_EQ(server.stats().connections, 32u);
	if (!ring())
		EXPECT_EQ(server.stats().max_open, 1u);
}

// A client that resets its connection mid-stream (SO_LINGER 0: close sends RST) ends that
// connection only: the next client is served.
TEST_P(Echo, ClientResetEndsOnlyItsConnection)
{
	Server server(ops(), 2);
	int c = server.connect_client();
	ASSERT_GE(c, 0);
	ASSERT_TRUE(send_all(c, random_bytes(256 * 1024, 3)));
	struct linger lg = {1, 0};
	ASSERT_EQ(setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
	close(c);

	int d = server.connect_client();
	ASSERT_GE(d, 0);
	ASSERT_TRUE(send_all(d, "still here"));
	EXPECT_EQ(recv_exactly(d, 10), "still here");
	close(d);
	EXPECT_EQ(server.join(), 0);
	EXPECT_EQ(server.stats().connections, 2u);
}

TEST_P(Echo, SocketNotListeningIsEINVAL)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_GE(fd, 0);
	struct lu_echo_opts o = {ops(), 1, 0, 0};
	int r = 1;
	std::thread([&] { r = lu_echo_serve(fd, &o, nullptr); }).join();
	close(fd);
	EXPECT_EQ(r, -EINVAL);
}

// Shutting the listening socket down fails the pending accept: the serve returns that error.
TEST_P(Echo, ListenSocketErrorEndsTheServe)
{
	Server server(ops(), 0);
	int c = server.connect_client();
	ASSERT_GE(c, 0);
	ASSERT_TRUE(send_all(c, "x"));
	EXPECT_EQ(recv_exactly(c, 1), "x");
	close(c);
	// The serve is back in accept once the server has closed the connection.
	usleep(100 * 1000);
	shutdown(server.listen_fd(), SHUT_RDWR);
	EXPECT_EQ(server.join(), -EINVAL);
	EXPECT_EQ(server.stats().connections, 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, Echo, testing::Values(&lu_uring_ops, &lu_posix_ops),
			 [](const testing::TestParamInfo<const LuOps *> &p) {
				 return std::string(p.param->name);
			 });

// The ring form serves every connection at once on one thread: 32 clients connect and stay
// open, then each in reverse order gets its echo while the 31 others are still open.  The
// blocking baseline would be stuck on connection 0 and time out on the first of them.
TEST(EchoRing, ThirtyTwoConnectionsAtOnce)
{
	Server server(&lu_uring_ops, 32);
	std::vector<int> cs;
	for (unsigned i = 0; i < 32; i++) {
		int c = server.connect_client();
		ASSERT_GE(c, 0);
		cs.push_back(c);
	}
	for (unsigned i = 32; i-- > 0;) {
		std::string msg = "connection " + std::to_string(i);
		ASSERT_TRUE(send_all(cs[i], msg));
		EXPECT_EQ(recv_exactly(cs[i], msg.size()), msg);
	}
	for (int c : cs)
		close(c);
	EXPECT_EQ(server.join(), 0);
	EXPECT_EQ(server.stats().max_open, 32u);
}

// The check above can fail: the POSIX baseline does not answer a second connection while the
// first is open, and answers it once the first closes.
TEST(EchoPosix, SecondConnectionWaitsForTheFirst)
{
	Server server(&lu_posix_ops, 2);
	int first = server.connect_client();
	int second = server.connect_client(300);
	ASSERT_GE(first, 0);
	ASSERT_GE(second, 0);
	ASSERT_TRUE(send_all(second, "b"));
	EXPECT_EQ(recv_exactly(second, 1), "") << "served before the first connection closed";
	close(first);
	set_timeout(second, SO_RCVTIMEO, kTimeoutMs);
	EXPECT_EQ(recv_exactly(second, 1), "b");
	close(second);
	EXPECT_EQ(server.join(), 0);
}

// On the ring, shutting the listening socket down also ends open connections: the serve drains
// them (their clients see end of file) and returns the error.
TEST(EchoRing, ListenSocketErrorDrainsOpenConnections)
{
	Server server(&lu_uring_ops, 0);
	std::vector<int> cs;
	for (unsigned i = 0; i < 3; i++) {
		int c = server.connect_client();
		ASSERT_GE(c, 0);
		ASSERT_TRUE(send_all(c, "x"));
		ASSERT_EQ(recv_exactly(c, 1), "x");
		cs.push_back(c);
	}
	shutdown(server.listen_fd(), SHUT_RDWR);
	EXPECT_EQ(server.join(), -EINVAL);
	for (int c : cs) {
		EXPECT_EQ(recv_exactly(c, 1), "");
		close(c);
	}
	EXPECT_EQ(server.stats().max_open, 3u);
}

}  // namespace
