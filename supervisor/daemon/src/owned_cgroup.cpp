// Creating a bot's memory cgroup under memvisord's own and writing its limits.
#include "memvisor/daemon/owned_cgroup.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <filesystem>

#include "memvisor/daemon/pidfd.hpp"

namespace memvisor::daemon {

namespace {
Result<void> writeFile(const std::string& path, const std::string& value) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errnoError(errno, "opening " + path);
  const ssize_t n = ::write(fd, value.data(), value.size());
  const int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(value.size()))
    return errnoError(err, "writing " + value + " to " + path);
  return okResult();
}


// <parent>/memvisor-<bot>-<instance>, created unless it exists.
Result<std::string> makeChild(const std::string& parent, const std::string& bot,
                              const std::string& instance) {
  std::string dir = parent + "/" + OwnedCgroup::name(bot, instance);
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return errnoError(errno, "creating cgroup " + dir);
  }
  return dir;
}

}  // namespace

std::string OwnedCgroup::name(const std::string& bot, const std::string& instance) {
  return "memvisor-" + bot + "-" + instance;
}

std::string OwnedCgroup::instanceTag(const std::string& bot_socket) {
  std::uint32_t h = 2166136261u;  // FNV-1a: stable across builds and machines, unlike std::hash
  for (const unsigned char c : bot_socket) {
    h ^= c;
    h *= 16777619u;
  }
  char out[9];
  std::snprintf(out, sizeof out, "%08x", h);
  return out;
}

Result<OwnedCgroup> OwnedCgroup::create(const sampling::SysPaths& paths, const std::string& bot,
                                        const std::string& instance) {
  auto self = sampling::resolveCgroup(paths, ::getpid());
  if (!self) return self.error().wrap("finding memvisord's own cgroup");
  if (!self->hasMemory()) {
    return Error{"no_cgroup", "memvisord has no memory cgroup (" + self->describe() + ")"};
  }
  auto dir = makeChild(self->memory_dir, bot, instance);
  if (!dir) return dir.error();
  return OwnedCgroup(*self->memory_version, std::move(*dir));
}

Result<OwnedCgroup> OwnedCgroup::createIn(const std::string& parent, const std::string& bot,
                                          const std::string& instance) {
  auto dir = makeChild(parent, bot, instance);
  if (!dir) return dir.error();
  std::error_code ec;  // the non-throwing overload: no exception on the event loop
  const bool v1 = std::filesystem::exists(*dir + "/memory.limit_in_bytes", ec);
  return OwnedCgroup(v1 ? sampling::CgroupVersion::kV1 : sampling::CgroupVersion::kV2, std::move(*dir));
}

OwnedCgroup OwnedCgroup::adopt(sampling::CgroupVersion version, std::string dir) {
  return OwnedCgroup(version, std::move(dir));
}

Result<void> OwnedCgroup::setLimit(std::uint64_t hard_bytes,
                                   std::optional<std::uint64_t> soft_bytes) {
  if (version_ == sampling::CgroupVersion::kV1) {
    return writeFile(dir_ + "/memory.limit_in_bytes", std::to_string(hard_bytes));
  }
  if (auto r = writeFile(dir_ + "/memory.max", std::to_string(hard_bytes)); !r) return r;
  if (soft_bytes) return writeFile(dir_ + "/memory.high", std::to_string(*soft_bytes));
  return okResult();
}

sampling::CgroupLocation OwnedCgroup::location() const {
  sampling::CgroupLocation loc;
  loc.memory_version = version_;
  loc.memory_dir = dir_;
  if (version_ == sampling::CgroupVersion::kV2) loc.v2_dir = dir_;
  return loc;
}

bool OwnedCgroup::remove() { return ::rmdir(dir_.c_str()) == 0; }

Result<bool> OwnedCgroup::recreateIfMissing() {
  if (::mkdir(dir_.c_str(), 0755) == 0) return true;
  if (errno == EEXIST) return false;
  return errnoError(errno, "creating cgroup " + dir_ + " again");
}

}  // namespace memvisor::daemon
