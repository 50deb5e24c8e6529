// The copy engine (copy.h) against real files, under both backends: contents copied exactly
// at every size around the block boundaries, errors reported for the right file with every
// buffer drained, and the io_uring form really running on the ring with reads in flight.

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <tuple>

#include <gtest/gtest.h>

#include "copy.h"
#include "driver.h"
#include "ops.h"
#include "test_util.h"

namespace {

using LuOps = struct lu_ops;

class CopyDir {
public:
	CopyDir()
	{
		const char *base = getenv("TMPDIR");
		path_ = std::string(base && *base ? base : "/tmp") + "/lu-copy-XXXXXX";
		if (!mkdtemp(&path_[0]))
			throw std::runtime_error("mkdtemp failed");
	}
	~CopyDir()
	{
		nftw(path_.c_str(),
		     [](const char *p, const struct stat *, int, struct FTW *) { return remove(p); },
		     16, FTW_DEPTH | FTW_PHYS);
	}
	std::string path(const std::string &name) const { return path_ + "/" + name; }

private:
	std::string path_;
};

// Files are written and read back with plain syscalls, independently of the engine.
void put(const std::string &path, const std::string &content)
{
	int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(write(fd, content.data(), content.size()), (ssize_t)content.size());
	close(fd);
}

std::string get(const std::string &path)
{
	return file_at(AT_FDCWD, path.c_str());
}

bool exists(const std::string &path)
{
	struct stat st;
	return lstat(path.c_str(), &st) == 0;
}

unsigned batch_inflight()
{
	int err;
	struct lu_driver *d = lu_driver_get(&err);
	return d ? lu_inflight(d) : 0;
}

constexpr unsigned kBlock = 64 * 1024;

// (backend, depth, block)
class Copy : public testing::TestWithParam<std::tuple<const LuOps *, unsigned, unsigned>> {
protected:
	lu_copy_opts opts() const
	{
		return {std::get<0>(GetParam()), std::get<1>(GetParam()), std::get<2>(GetParam())};
	}
	unsigned block() const { return std::get<2>(GetParam()); }
	bool ring() const { return std::get<0>(GetParam()) == &lu_uring_ops; }
	CopyDir dir;
};

TEST_P(Copy, EverySizeAroundTheBlockIsCopiedExactly)
{
	const size_t b = block();
	const size_t sizes[] = {0, 1, b - 1, b, b + 1, 2 * b, 10 * b + 123, 3 * 1024 * 1024 + 7};
	lu_copy_opts o = opts();
	for (size_t size : sizes) {
		SCOPED_TRACE("size " + std::to_string(size));
		std::string data = random_bytes(size, (unsigned)size);
		put(dir.path("src"), data);
		put(dir.path("dst"), std::string(5 * b, 'x'));  // longer: must be truncated
		lu_copy_result res;
		ASSERT_EQ(lu_copy_file(dir.path("src").c_str(), dir.path("dst").c_str(), &o, &res), 0);
		EXPECT_EQ(res.bytes, size);
		EXPECT_TRUE(get(dir.path("dst")) == data);
		EXPECT_GE(res.max_inflight, 1u);
		EXPECT_LE(res.max_inflight, o.depth);
		EXPECT_EQ(batch_inflight(), 0u);
	}
}

TEST_P(Copy, NewFileGetsMode0666MinusUmask)
{
	put(dir.path("src"), "abc");
	mode_t old = umask(027);
	lu_copy_opts o = opts();
	int r = lu_copy_file(dir.path("src").c_str(), dir.path("new").c_str(), &o, nullptr);
	umask(old);
	ASSERT_EQ(r, 0);
	struct stat st;
	ASSERT_EQ(stat(dir.path("new").c_str(), &st), 0);
	EXPECT_EQ(st.st_mode & 0777, 0640u);
	EXPECT_EQ(get(dir.path("new")), "abc");
}

TEST_P(Copy, MissingSourceIsENOENTAndCreatesNothing)
{
	lu_copy_opts o = opts();
	lu_copy_result res;
	EXPECT_EQ(lu_copy_file(dir.path("none").c_str(), dir.path("dst").c_str(), &o, &res), -ENOENT);
	EXPECT_EQ(res.failed, LU_COPY_SRC);
	EXPECT_FALSE(exists(dir.path("dst")));
}

TEST_P(Copy, DirectorySourceIsEISDIRAndCreatesNothing)
{
	lu_copy_opts o = opts();
	lu_copy_result res;
	EXPECT_EQ(lu_copy_file(dir.path("").c_str(), dir.path("dst").c_str(), &o, &res), -EISDIR);
	EXPECT_EQ(res.failed, LU_COPY_SRC);
	EXPECT_FALSE(exists(dir.path("dst")));
}

// Truncating the destination would empty the source before it is read.
TEST_P(Copy, CopyOntoItselfIsRefusedAndKeepsTheData)
{
	put(dir.path("src"), "precious");
	ASSERT_EQ(link(dir.path("src").c_str(), dir.path("hard").c_str()), 0);
	ASSERT_EQ(symlink(dir.path("src").c_str(), dir.path("soft").c_str()), 0);
	lu_copy_opts o = opts();
	for (const char *dst : {"src", "hard", "soft"}) {
		SCOPED_TRACE(dst);
		lu_copy_result res;
		EXPECT_EQ(lu_copy_file(dir.path("src").c_str(), dir.path(dst).c_str(), &o, &res),
			  -EINVAL);
		EXPECT_EQ(res.failed, LU_COPY_DST);
		EXPECT_EQ(get(dir.path("src")), "precious");
	}
}

TEST_P(Copy, MissingDestinationDirectoryIsENOENTForTheDestination)
{
	put(dir.path("src"), "abc");
	lu_copy_opts o = opts();
	lu_copy_result res;
	EXPECT_EQ(lu_copy_file(dir.path("src").c_str(), dir.path("no/dst").c_str(), &o, &res),
		  -ENOENT);
	EXPECT_EQ(res.failed, LU_COPY_DST);
}

// /dev/full fails every write: the engine stops, drains what is in flight, and the thread's
// batch path is idle again (a second copy is not refused with -EBUSY).
TEST_P(Copy, FullDeviceIsENOSPCAfterDrainingEverything)
{
	put(dir.path("src"), random_bytes(2 * 1024 * 1024, 7));
	lu_copy_opts o = opts();
	lu_copy_result res;
	EXPECT_EQ(lu_copy_file(dir.path("src").c_str(), "/dev/full", &o, &res), -ENOSPC);
	EXPECT_EQ(res.failed, LU_COPY_DST);
	EXPECT_EQ(res.bytes, 0u);
	EXPECT_EQ(batch_inflight(), 0u);
	EXPECT_EQ(lu_copy_file(dir.path("src").c_str(), dir.path("dst").c_str(), &o, &res), 0);
	EXPECT_EQ(res.bytes, 2u * 1024 * 1024);
}

TEST_P(Copy, PipeDestinationIsESPIPE)
{
	put(dir.path("src"), "abc");
	int in = open(dir.path("src").c_str(), O_RDONLY | O_CLOEXEC);
	int p[2];
	ASSERT_EQ(pipe(p), 0);
	lu_copy_opts o = opts();
	lu_copy_result res;
	EXPECT_EQ(lu_copy_fd(in, p[1], &o, &res), -ESPIPE);
	EXPECT_EQ(res.failed, LU_COPY_DST);
	close(in);
	close(p[0]);
	close(p[1]);
}

// The fds' positions are neither used nor moved.
TEST_P(Copy, CopyFdIgnoresAndKeepsPositions)
{
	std::string data = random_bytes(3 * block() + 5, 3);
	put(dir.path("src"), data);
	int in = open(dir.path("src").c_str(), O_RDONLY | O_CLOEXEC);
	int out = open(dir.path("dst").c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ASSERT_EQ(lseek(in, 100, SEEK_SET), 100);
	ASSERT_EQ(lseek(out, 7, SEEK_SET), 7);
	lu_copy_opts o = opts();
	EXPECT_EQ(lu_copy_fd(in, out, &o, nullptr), 0);
	EXPECT_EQ(lseek(in, 0, SEEK_CUR), 100);
	EXPECT_EQ(lseek(out, 0, SEEK_CUR), 7);
	close(in);
	close(out);
	EXPECT_TRUE(get(dir.path("dst")) == data);
}

// Depth 1 is one operation at a time; a deep ring keeps many in flight on a large file.
TEST_P(Copy, DepthBoundsTheOperationsInFlight)
{
	put(dir.path("src"), random_bytes(64 * block(), 11));
	lu_copy_opts o = opts();
	lu_copy_result res;
	ASSERT_EQ(lu_copy_file(dir.path("src").c_str(), dir.path("dst").c_str(), &o, &res), 0);
	if (!ring() || o.depth == 1)
		EXPECT_EQ(res.max_inflight, 1u);
	else
		EXPECT_GT(res.max_inflight, 1u);
	EXPECT_LE(res.max_inflight, o.depth);
}

std::string copy_name(const testing::TestParamInfo<Copy::ParamType> &info)
{
	return std::string(std::get<0>(info.param)->name) + "_depth" +
	       std::to_string(std::get<1>(info.param)) + "_block" +
	       std::to_string(std::get<2>(info.param));
}

INSTANTIATE_TEST_SUITE_P(Backends, Copy,
			 testing::Combine(testing::Values(&lu_uring_ops, &lu_posix_ops),
					  testing::Values(1u, 64u),
					  testing::Values(4096u, kBlock)),
			 copy_name);

// The ring form runs on this thread's driver: on a thread whose ring cannot be created it
// fails with the ring's error, where the POSIX form copies.
TEST(CopyRing, NeedsThisThreadsRing)
{
	CopyDir dir;
	put(dir.path("src"), "abc");
	int in = open(dir.path("src").c_str(), O_RDONLY | O_CLOEXEC);
	int out = open(dir.path("dst").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int ring_result = 1, posix_result = 1;
	lu_driver_set_entries(0);
	std::thread([&] {
		lu_copy_opts ring = {&lu_uring_ops, 0, 0}, posix = {&lu_posix_ops, 0, 0};
		ring_result = lu_copy_fd(in, out, &ring, nullptr);
		posix_result = lu_copy_fd(in, out, &posix, nullptr);
	}).join();
	lu_driver_set_entries(LU_DRIVER_DEFAULT_ENTRIES);
	close(in);
	close(out);
	EXPECT_EQ(ring_result, -EINVAL);
	EXPECT_EQ(posix_result, 0);
	EXPECT_EQ(get(dir.path("dst")), "abc");
}

// Completions of someone else's batch operations would be taken for the copy's own.
TEST(CopyRing, RefusesABusyBatchPath)
{
	CopyDir dir;
	put(dir.path("src"), "abc");
	int in = open(dir.path("src").c_str(), O_RDONLY | O_CLOEXEC);
	int out = open(dir.path("dst").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int err;
	struct lu_driver *d = lu_driver_get(&err);
	ASSERT_NE(d, nullptr);
	struct io_uring_sqe nop = {};
	nop.opcode = IORING_OP_NOP;
	nop.user_data = 42;
	ASSERT_EQ(lu_submit(d, &nop), 0);
	lu_copy_opts ring = {&lu_uring_ops, 0, 0};
	EXPECT_EQ(lu_copy_fd(in, out, &ring, nullptr), -EBUSY);
	struct io_uring_cqe cqe;
	ASSERT_EQ(lu_wait(d, &cqe), 0);
	EXPECT_EQ(cqe.user_data, 42u);
	EXPECT_EQ(lu_copy_fd(in, out, &ring, nullptr), 0);
	close(in);
	close(out);
	EXPECT_EQ(get(dir.path("dst")), "abc");
}

} // namespace
