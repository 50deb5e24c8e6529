/*
 * sockops.c - socket operations: the io_uring form and its POSIX twin.  bind and listen never
 * block, so both backends make them plain syscalls.
 */
#include "ops_impl.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

int lu_uring_socket(int domain, int type, int protocol)
{
	struct io_uring_sqe sqe = lu_sqe(IORING_OP_SOCKET, domain);

	sqe.off = (uint64_t)type;
	sqe.len = (uint32_t)protocol;
	return lu_run(&sqe);
}

int lu_uring_accept(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags)
{
	struct io_uring_sqe sqe = lu_sqe(IORING_OP_ACCEPT, fd);
	int nb = lu_fd_nonblocking(fd);

	if (nb != 0)
		return nb < 0 ? nb : lu_posix_accept(fd, addr, addrlen, flags);
	sqe.addr = (uintptr_t)addr;
	sqe.addr2 = (uintptr_t)addrlen;
	sqe.accept_flags = (uint32_t)flags;
	return lu_run(&sqe);
}

int lu_uring_connect(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
	struct io_uring_sqe sqe = lu_sqe(IORING_OP_CONNECT, fd);
	int nb = lu_fd_nonblocking(fd);

	if (nb != 0)
		return nb < 0 ? nb : lu_posix_connect(fd, addr, addrlen);
	sqe.addr = (uintptr_t)addr;
	sqe.off = addrlen;
	return lu_run(&sqe);
}

static ssize_t transfer(unsigned opcode, int fd, const void *buf, size_t len, int flags)
{
	struct io_uring_sqe sqe = lu_sqe(opcode, fd);

	sqe.addr = (uintptr_t)buf;
	sqe.len = lu_op_len(len);
	sqe.msg_flags = (uint32_t)flags;
	return lu_run(&sqe);
}

ssize_t lu_uring_recv(int fd, void *buf, size_t len, int flags)
{
	int nb = lu_fd_nonblocking(fd);

	if (nb != 0)
		return nb < 0 ? nb : lu_posix_recv(fd, buf, len, flags);
	return transfer(IORING_OP_RECV, fd, buf, len, flags);
}

ssize_t lu_uring_send(int fd, const void *buf, size_t len, int flags)
{
	int nb = lu_fd_nonblocking(fd);

	if (nb != 0)
		return nb < 0 ? nb : lu_posix_send(fd, buf, len, flags);
	return transfer(IORING_OP_SEND, fd, buf, len, flags);
}

int lu_uring_shutdown(int fd, int how)
{
	struct io_uring_sqe sqe = lu_sqe(IORING_OP_SHUTDOWN, fd);

	sqe.len = (uint32_t)how;
	return lu_run(&sqe);
}

/* ---- POSIX twins ---- */

int lu_posix_socket(int domain, int type, int protocol)
{
	int fd = socket(domain, type, protocol);

	return fd < 0 ? -errno : fd;
}

int lu_posix_accept(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags)
{
	return LU_RETRY_EINTR(accept4(fd, addr, addrlen, flags));
}

/*
 * An interrupted connect(2) keeps connecting in the background, and calling it again would
 * report EALREADY; so wait for the socket to become writable and take the outcome from
 * SO_ERROR, which is what the ring's connect does internally.
 */
int lu_posix_connect(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	socklen_t elen = sizeof(int);
	int err = 0;

	if (connect(fd, addr, addrlen) == 0)
		return 0;
	if (errno != EINTR)
		return -errno;
	while (poll(&p, 1, -1) < 0)
		if (errno != EINTR)
			return -errno;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
		return -errno;
	return -err;
}

ssize_t lu_posix_recv(int fd, void *buf, size_t len, int flags)
{
	return LU_RETRY_EINTR(recv(fd, buf, lu_op_len(len), flags));
}

ssize_t lu_posix_send(int fd, const void *buf, size_t len, int flags)
{
	return LU_RETRY_EINTR(send(fd, buf, lu_op_len(len), flags));
}

int lu_posix_shutdown(int fd, int how)
{
	return shutdown(fd, how) < 0 ? -errno : 0;
}

int lu_bind(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
	return bind(fd, addr, addrlen) < 0 ? -errno : 0;
}

int lu_listen(int fd, int backlog)
{
	return listen(fd, backlog) < 0 ? -errno : 0;
}

int lu_listen_loopback(const struct lu_ops *ops, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr = { .s_addr = htonl(INADDR_LOOPBACK) } };
	int one = 1;
	int fd = ops->socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return fd;
	int r = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ? -errno : 0;
	if (r == 0)
		r = lu_bind(fd, (struct sockaddr *)&a, sizeof a);
	if (r == 0)
		r = lu_listen(fd, SOMAXCONN);
	if (r < 0) {
		ops->close(fd);
		return r;
	}
	return fd;
}

int lu_sockaddr_make(union lu_sockaddr *out, unsigned family, const uint8_t *bytes, size_t n,
		     uint16_t port)
{
	memset(out, 0, sizeof *out);
	if (family == 4 && n == 4) {
		out->sin.sin_family = AF_INET;
		out->sin.sin_port = htons(port);
		memcpy(&out->sin.sin_addr, bytes, 4);
		return (int)sizeof out->sin;
	}
	if (family == 6 && n == 16) {
		out->sin6.sin6_family = AF_INET6;
		out->sin6.sin6_port = htons(port);
		memcpy(&out->sin6.sin6_addr, bytes, 16);
		return (int)sizeof out->sin6;
	}
	return -EINVAL;
}

int lu_sockaddr_split(const union lu_sockaddr *a, socklen_t len, uint8_t *family,
		      uint8_t bytes[16], uint16_t *port)
{
	if (len >= sizeof a->sin && a->sa.sa_family == AF_INET) {
		*family = 4;
		*port = ntohs(a->sin.sin_port);
		memcpy(bytes, &a->sin.sin_addr, 4);
		return 4;
	}
	if (len >= sizeof a->sin6 && a->sa.sa_family == AF_INET6) {
		*family = 6;
		*port = ntohs(a->sin6.sin6_port);
		memcpy(bytes, &a->sin6.sin6_addr, 16);
		return 16;
	}
	return -EAFNOSUPPORT;
}

int lu_tcp_socket(unsigned family)
{
	if (family != 4 && family != 6)
		return -EINVAL;
	return lu_posix_socket(family == 4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC,
			       IPPROTO_TCP);
}

int lu_sock_name(int fd, bool peer, union lu_sockaddr *out)
{
	socklen_t len = sizeof *out;

	memset(out, 0, sizeof *out);
	if ((peer ? getpeername(fd, &out->sa, &len) : getsockname(fd, &out->sa, &len)) < 0)
		return -errno;
	return (int)len;
}

int lu_sockopt_set(int fd, int level, int name, int value)
{
	return setsockopt(fd, level, name, &value, sizeof value) < 0 ? -errno : 0;
}

int lu_sockopt_get(int fd, int level, int name, int *value)
{
	socklen_t len = sizeof *value;

	*value = 0;
	return getsockopt(fd, level, name, value, &len) < 0 ? -errno : 0;
}

struct io_uring_sqe lu_sqe_accept_multishot(int fd, int flags)
{
	struct io_uring_sqe sqe = lu_sqe(IORING_OP_ACCEPT, fd);
	sqe.accept_flags = (uint32_t)flags;
	sqe.ioprio = IORING_ACCEPT_MULTISHOT;
	return sqe;
}

struct io_uring_sqe lu_sqe_recv_multishot(int fd, uint16_t bgid, int flags)
{
	struct io_uring_sqe sqe = lu_sqe(IORING_OP_RECV, fd);
	sqe.msg_flags = (uint32_t)flags;
	sqe.ioprio = IORING_RECV_MULTISHOT;
	sqe.flags = IOSQE_BUFFER_SELECT;
	sqe.buf_group = bgid;
	return sqe;
}
