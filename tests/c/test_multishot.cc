// Multishot operations through the slot table (slots.h), on both engines: one submission,
// many completions, the owners kept until the final CQE; a provided-buffer ring (pbuf.h) that
// runs dry (-ENOBUFS) and is re-armed; teardown with multishot operations armed.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "driver.h"
#include "ops.h"
#include "pbuf.h"
#include "slots.h"
#include "test_util.h"

namespace {

void *const kOwner = (void *)(uintptr_t)0x5105;

class Multishot : public ::testing::TestWithParam<lu_slots_engine> {
protected:
	// Each test body on a fresh thread: a fresh table of the engine under test.
	void on_fresh_thread(const std::function<void(lu_slots *)> &body)
	{
		released.clear();
		lu_slots_engine engine = GetParam();
		std::thread th([&] {
			int err = 0;
			lu_slots *t = lu_slots_get(count_release, engine, &err);
			ASSERT_NE(t, nullptr) << err;
			ASSERT_EQ(lu_slots_engine_of(t), engine);
			body(t);
		});
		th.join();
	}
};

int submit(lu_slots *t, io_uring_sqe sqe, uint64_t user_data, unsigned flags = 0,
	   void *owner = kOwner)
{
	int slot = lu_slots_prepare(t, user_data, 0, flags);
	if (slot < 0)
		return slot;
	lu_slots_owners(t, slot)[0] = owner;
	return lu_slots_submit(t, slot, &sqe);
}

using Deliver = std::function<void(const lu_slot_cqe &)>;

int wait_some(lu_slots *t, const Deliver &fn)
{
	auto cb = [](void *ctx, const lu_slot_cqe *c) { (*static_cast<const Deliver *>(ctx))(*c); };
	return lu_slots_wait(t, true, cb, const_cast<Deliver *>(&fn));
}

int listener(uint16_t *port)
{
	int fd = lu_listen_loopback(&lu_posix_ops, 0);
	union lu_sockaddr a;
	EXPECT_GE(lu_sock_name(fd, false, &a), 0);
	*port = ntohs(a.sin.sin_port);
	return fd;
}

int connect_to(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sockaddr_in a{};
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (sockaddr *)&a, sizeof a) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

// A connected TCP pair on loopback: {ours, the peer's}.
std::pair<int, int> tcp_pair()
{
	uint16_t port;
	int l = listener(&port);
	int c = connect_to(port);
	int s = accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
	close(l);
	return { s, c };
}

std::string pattern(size_t n)
{
	std::string s(n, '\0');
	for (size_t i = 0; i < n; i++)
		s[i] = (char)('a' + (i * 7 + i / 251) % 26);
	return s;
}

TEST_P(Multishot, OneAcceptTakesAThousandConnections)
{
	const int n = 1000;
	uint16_t port;
	int l = listener(&port);
	on_fresh_thread([&](lu_slots *t) {
		ASSERT_EQ(submit(t, lu_sqe_accept_multishot(l, SOCK_CLOEXEC), 1, LU_SLOT_FD_RESULT),
			  0);
		std::thread peers([&] {
			for (int i = 0; i < n; i++) {
				int fd = connect_to(port);
				ASSERT_GE(fd, 0);
				close(fd);  // still queued for accept: the listener's backlog keeps it
			}
		});
		int accepted = 0, finals = 0, rearms = 0;
		bool ended = false;
		Deliver on = [&](const lu_slot_cqe &c) {
			if (c.user_data != 1)
				return;
			EXPECT_EQ(c.owner[0], kOwner);  // lent before the final CQE, then given
			bool more = c.flags & IORING_CQE_F_MORE;
			EXPECT_EQ(lu_slots_inflight(t), more ? 1u : 0u);
			if (!more) {
				finals++;
				ended = true;
			}
			if (c.res == -ECANCELED && !more)
				return;
			ASSERT_GE(c.res, 0) << strerror(-c.res);
			close(c.res);
			accepted++;
		};
		while (accepted < n) {
			ASSERT_GT(wait_some(t, on), 0);
			// A full CQ ends a multishot with a last good result: the caller arms it again.
			if (ended && accepted < n) {
				ended = false;
				rearms++;
				ASSERT_EQ(submit(t, lu_sqe_accept_multishot(l, SOCK_CLOEXEC), 1,
						 LU_SLOT_FD_RESULT), 0);
			}
		}
		peers.join();
		EXPECT_EQ(accepted, n);
		EXPECT_EQ(finals, rearms + (ended ? 1 : 0));
		if (ended) {
			EXPECT_TRUE(released.empty());
			return;
		}
		finals = rearms;
		ASSERT_EQ(lu_slots_cancel(t, 1, 2), 0);
		int cancel_res = 1;
		Deliver end = [&](const lu_slot_cqe &c) {
			if (c.user_data == 2)
				cancel_res = c.res;
			else
				on(c);
		};
		while (lu_slots_inflight(t) > 0 && wait_some(t, end) > 0)
			;
		EXPECT_EQ(cancel_res, 0);
		EXPECT_EQ(finals, rearms + 1);
		EXPECT_EQ(accepted, n);
		EXPECT_EQ(lu_slots_stale(t), 0u);
		EXPECT_TRUE(released.empty());  // the final CQE handed the owner over
	});
	close(l);
}

TEST_P(Multishot, RecvDrainsASmallBufferRingAndIsReArmed)
{
	const size_t total = 100 * 1024;
	const std::string sent = pattern(total);
	const auto pair = tcp_pair();
	const int s = pair.first, peer = pair.second;
	on_fresh_thread([&](lu_slots *t) {
		lu_pbuf *p = nullptr;
		ASSERT_EQ(lu_pbuf_new(t, 7, 4, 64, &p), 0);
		ASSERT_EQ(lu_pbuf_new(t, 7, 4, 64, &p), -EEXIST);
		std::thread sender([&] {
			EXPECT_EQ(lu_write_all(&lu_posix_ops, peer, sent.data(), total, -1),
				  (ssize_t)total);
			shutdown(peer, SHUT_WR);
		});
		std::string got;
		int arms = 0, enobufs = 0, eof = 0, cq_full = 0;
		std::vector<unsigned> lent;
		Deliver on = [&](const lu_slot_cqe &c) {
			if (c.res > 0) {
				ASSERT_TRUE(c.flags & IORING_CQE_F_BUFFER);
				ASSERT_LE(c.res, 64);
				unsigned bid = lu_pbuf_id(c.flags);
				ASSERT_LT(bid, 4u);
				got.append((const char *)lu_pbuf_buf(p, bid), (size_t)c.res);
				lent.push_back(bid);
			}
			if (c.flags & IORING_CQE_F_MORE)
				return;
			EXPECT_EQ(c.owner[0], kOwner);
			if (c.res == -ENOBUFS)
				enobufs++;
			else if (c.res == 0)
				eof++;
			else if (c.res > 0)
				cq_full++;  // a last buffer: arm again
			else
				ADD_FAILURE() << "final " << c.res;
			if (c.res <= 0)
				EXPECT_FALSE(c.flags & IORING_CQE_F_BUFFER) << c.res;
		};
		// The bytes are consumed after each wait: only then are the buffers recycled, so
		// the four run out while the peer's 100 KiB are queued.
		while (eof == 0) {
			ASSERT_LT(arms, 100000) << "re-armed without progress";
			if (lu_slots_inflight(t) == 0) {
				ASSERT_EQ(submit(t, lu_sqe_recv_multishot(s, 7, 0), 10 + arms), 0);
				arms++;
			}
			ASSERT_GT(wait_some(t, on), 0);
			for (unsigned bid : lent)
				lu_pbuf_recycle(p, bid);
			lent.clear();
		}
		sender.join();
		EXPECT_EQ(got.size(), total);
		EXPECT_TRUE(got == sent);
		EXPECT_GE(enobufs, 1);
		EXPECT_EQ(arms, enobufs + cq_full + 1);
		EXPECT_EQ(lu_slots_stale(t), 0u);
		EXPECT_TRUE(released.empty());
		lu_pbuf_free(p);
	});
	close(s);
	close(peer);
}

TEST_P(Multishot, RecvFromAnEmptyGroupEndsAtOnceWithENOBUFS)
{
	const auto pair = tcp_pair();
	const int s = pair.first, peer = pair.second;
	on_fresh_thread([&](lu_slots *t) {
		lu_pbuf *p = nullptr;
		ASSERT_EQ(lu_pbuf_new(t, 3, 1, 16, &p), 0);
		ASSERT_EQ(send(peer, "x", 1, 0), 1);
		std::vector<lu_slot_cqe> got;
		Deliver on = [&](const lu_slot_cqe &c) { got.push_back(c); };
		ASSERT_EQ(submit(t, lu_sqe_recv_multishot(s, 3, 0), 1), 0);
		ASSERT_EQ(wait_some(t, on), 1);
		lu_slots_wait(t, false, [](void *, const lu_slot_cqe *) { ADD_FAILURE(); }, nullptr);
		// Nothing queued: it waits, and finds the group empty only when more bytes come.
		EXPECT_EQ(lu_slots_inflight(t), 1u);
		ASSERT_EQ(send(peer, "y", 1, 0), 1);
		while (got.size() < 2 && wait_some(t, on) > 0)
			;
		ASSERT_EQ(got.size(), 2u);
		EXPECT_EQ(got[0].res, 1);
		EXPECT_EQ(got[0].flags & (IORING_CQE_F_MORE | IORING_CQE_F_BUFFER),
			  IORING_CQE_F_MORE | IORING_CQE_F_BUFFER);
		EXPECT_EQ(got[1].res, -ENOBUFS);  // the only buffer is still lent
		EXPECT_EQ(lu_slots_inflight(t), 0u);
		got.clear();
		// Armed on an empty group: the first try picks the buffer before any data, and fails.
		ASSERT_EQ(submit(t, lu_sqe_recv_multishot(s, 3, 0), 2), 0);
		ASSERT_EQ(wait_some(t, on), 1);
		EXPECT_EQ(got[0].res, -ENOBUFS);
		EXPECT_EQ(got[0].flags & IORING_CQE_F_MORE, 0u);
		lu_pbuf_free(p);
	});
	close(s);
	close(peer);
}

TEST_P(Multishot, CancelEndsAnArmedRecvWithItsOwner)
{
	const auto pair = tcp_pair();
	const int s = pair.first, peer = pair.second;
	on_fresh_thread([&](lu_slots *t) {
		lu_pbuf *p = nullptr;
		ASSERT_EQ(lu_pbuf_new(t, 1, 2, 32, &p), 0);
		ASSERT_EQ(submit(t, lu_sqe_recv_multishot(s, 1, 0), 5), 0);
		ASSERT_EQ(lu_slots_wait(t, false, [](void *, const lu_slot_cqe *) {}, nullptr), 0);
		ASSERT_EQ(lu_slots_cancel(t, 5, 6), 0);
		std::map<uint64_t, lu_slot_cqe> got;
		Deliver on = [&](const lu_slot_cqe &c) { got[c.user_data] = c; };
		while (lu_slots_inflight(t) > 0 && wait_some(t, on) > 0)
			;
		EXPECT_EQ(got[6].res, 0);
		EXPECT_EQ(got[5].res, -ECANCELED);
		EXPECT_EQ(got[5].flags & IORING_CQE_F_MORE, 0u);
		EXPECT_EQ(got[5].owner[0], kOwner);
		EXPECT_TRUE(released.empty());
		lu_pbuf_free(p);
	});
	close(s);
	close(peer);
}

TEST_P(Multishot, ThreadExitWithArmedAcceptAndRecvLeaksNothing)
{
	uint16_t port;
	int l = listener(&port);
	const auto pair = tcp_pair();
	const int s = pair.first, peer = pair.second;
	int before = count_fds();
	std::vector<int> clients;
	void *const owners[2] = { (void *)(uintptr_t)0xacc, (void *)(uintptr_t)0x7ec };
	on_fresh_thread([&](lu_slots *t) {
		lu_pbuf *p = nullptr;
		ASSERT_EQ(lu_pbuf_new(t, 9, 4, 64, &p), 0);
		// Connections and bytes queued before the operations are: both engines take them
		// at the teardown's first submission, so completions come that nobody reaps, and
		// the accepted fds among them must be closed.
		for (int i = 0; i < 20; i++)
			clients.push_back(connect_to(port));
		ASSERT_EQ(send(peer, "hello", 5, 0), 5);
		ASSERT_EQ(submit(t, lu_sqe_accept_multishot(l, SOCK_CLOEXEC), 1, LU_SLOT_FD_RESULT,
				 owners[0]), 0);
		ASSERT_EQ(submit(t, lu_sqe_recv_multishot(s, 9, 0), 2, 0, owners[1]), 0);
		EXPECT_EQ(lu_slots_inflight(t), 2u);
	});
	EXPECT_EQ(released[owners[0]], 1);
	EXPECT_EQ(released[owners[1]], 1);
	EXPECT_EQ(released.size(), 2u);
	for (int fd : clients) {
		EXPECT_GE(fd, 0);
		close(fd);
	}
	EXPECT_EQ(count_fds(), before);
	close(l);
	close(s);
	close(peer);
}

INSTANTIATE_TEST_SUITE_P(Engines, Multishot,
			 ::testing::Values(LU_SLOTS_RING, LU_SLOTS_EMULATED),
			 [](const ::testing::TestParamInfo<lu_slots_engine> &i) {
				 return std::string(i.param == LU_SLOTS_RING ? "Ring" : "Emulated");
			 });

// A zero-copy send: its F_MORE CQE carries the result, its F_NOTIF CQE ends it (the kernel
// no longer reads the buffer), and only that one gives the owner back.
TEST(MultishotRing, ZeroCopySendKeepsItsOwnerUntilTheNotification)
{
	const auto pair = tcp_pair();
	const int s = pair.first, peer = pair.second;
	released.clear();
	std::thread th([&] {
		int err = 0;
		lu_slots *t = lu_slots_get(count_release, LU_SLOTS_RING, &err);
		ASSERT_NE(t, nullptr) << err;
		static char buf[4096];
		memset(buf, 'z', sizeof buf);
		io_uring_sqe sqe{};
		sqe.opcode = IORING_OP_SEND_ZC;
		sqe.fd = s;
		sqe.addr = (uintptr_t)buf;
		sqe.len = sizeof buf;
		ASSERT_EQ(submit(t, sqe, 1), 0);
		std::vector<lu_slot_cqe> got;
		Deliver on = [&](const lu_slot_cqe &c) {
			got.push_back(c);
			EXPECT_EQ(lu_slots_inflight(t), c.flags & IORING_CQE_F_MORE ? 1u : 0u);
		};
		while (lu_slots_inflight(t) > 0 && wait_some(t, on) > 0)
			;
		ASSERT_EQ(got.size(), 2u);
		if (got[0].res == -EINVAL)
			GTEST_SKIP() << "no IORING_OP_SEND_ZC";
		EXPECT_EQ(got[0].res, (int)sizeof buf);
		EXPECT_TRUE(got[0].flags & IORING_CQE_F_MORE);
		EXPECT_TRUE(got[1].flags & IORING_CQE_F_NOTIF);
		EXPECT_FALSE(got[1].flags & IORING_CQE_F_MORE);
		EXPECT_EQ(got[1].owner[0], kOwner);
		EXPECT_EQ(lu_slots_stale(t), 0u);
	});
	th.join();
	EXPECT_TRUE(released.empty());
	close(s);
	close(peer);
}

// The driver under the table: a CQE with F_MORE does not end the operation it belongs to.
TEST(MultishotRing, DriverCountsAnOperationInFlightUntilItsFinalCqe)
{
	const auto pair = tcp_pair();
	const int s = pair.first, peer = pair.second;
	std::thread th([&] {
		int err = 0;
		lu_driver *d = lu_driver_get(&err);
		ASSERT_NE(d, nullptr) << err;
		static char buf[512];
		io_uring_sqe sqe{};
		sqe.opcode = IORING_OP_SEND_ZC;
		sqe.fd = s;
		sqe.addr = (uintptr_t)buf;
		sqe.len = sizeof buf;
		sqe.user_data = 42;
		ASSERT_EQ(lu_submit(d, &sqe), 0);
		io_uring_cqe cqe;
		ASSERT_EQ(lu_wait(d, &cqe), 0);
		if (cqe.res == -EINVAL)
			GTEST_SKIP() << "no IORING_OP_SEND_ZC";
		EXPECT_TRUE(cqe.flags & IORING_CQE_F_MORE);
		EXPECT_EQ(lu_inflight(d), 1u);
		ASSERT_EQ(lu_wait(d, &cqe), 0);
		EXPECT_EQ(cqe.user_data, 42u);
		EXPECT_TRUE(cqe.flags & IORING_CQE_F_NOTIF);
		EXPECT_EQ(lu_inflight(d), 0u);
		EXPECT_EQ(lu_wait(d, &cqe), -ENOENT);
	});
	th.join();
	close(s);
	close(peer);
}

}  // namespace
