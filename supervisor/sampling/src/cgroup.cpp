// Locating a process's memory cgroup (v1 memory hierarchy or cgroup2).
#include "memvisor/sampling/cgroup.hpp"

#include <sys/stat.h>

#include "text.hpp"

namespace memvisor::sampling {
namespace {

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

bool isDir(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool listHas(std::string_view list, std::string_view item) {
  while (!list.empty()) {
    auto comma = list.find(',');
    if (list.substr(0, comma) == item) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

std::string join(const std::string& mount, const std::string& rel) {
  if (rel.empty() || rel == "/") return mount;
  if (rel.front() == '/') return mount + rel;
  return mount + "/" + rel;
}

}  // namespace

const char* toString(CgroupVersion version) {
  return version == CgroupVersion::kV1 ? "v1" : "v2";
}

Result<ProcCgroup> parseProcCgroup(std::string_view text) {
  ProcCgroup out;
  std::optional<Error> error;
  detail::forEachLine(text, [&](std::string_view line) {
    if (error || detail::trim(line).empty()) return;
    auto c1 = line.find(':');
    auto c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
    if (c2 == std::string_view::npos) {
      error = detail::parseError("cgroup: bad line '" + std::string(line) + "'");
      return;
    }
    std::string_view id = line.substr(0, c1);
    std::string_view controllers = line.substr(c1 + 1, c2 - c1 - 1);
    // The path may itself contain ':' (cgroup names are free text): take the rest of the line.
    std::string path(line.substr(c2 + 1));
    if (id == "0" && controllers.empty()) {
      out.v2 = std::move(path);
    } else if (listHas(controllers, "memory")) {
      out.v1_memory = std::move(path);
    }
  });
  if (error) return *error;
  return out;
}

Result<ProcCgroup> readProcCgroup(const SysPaths& paths, pid_t pid) {
  std::string path = paths.pidFile(pid, "cgroup");
  auto text = detail::readPidFile(path);
  if (!text.ok()) return text.error();
  auto parsed = parseProcCgroup(*text);
  if (!parsed.ok()) return parsed.error().wrap("reading " + path);
  return parsed;
}

CgroupMounts probeCgroupMounts(const SysPaths& paths) {
  CgroupMounts out;
  const std::string& root = paths.cgroup_root;
  if (isDir(root + "/memory")) out.v1_memory = root + "/memory";
  if (exists(root + "/cgroup.controllers")) {
    out.v2 = root;
  } else if (exists(root + "/unified/cgroup.controllers")) {
    out.v2 = root + "/unified";
  }
  return out;
}

CgroupMounts parseMountInfo(std::string_view text) {
  // "36 25 0:32 / /sys/fs/cgroup/memory rw,relatime shared:15 - cgroup cgroup rw,memory"
  CgroupMounts out;
  detail::forEachLine(text, [&](std::string_view line) {
    auto dash = line.find(" - ");
    if (dash == std::string_view::npos) return;
    std::string_view pre = line.substr(0, dash);
    std::string_view post = line.substr(dash + 3);
    // pre fields: id parent major:minor root mountpoint ...
    std::string_view fields[5];
    std::string_view rest = pre;
    for (auto& field : fields) {
      auto sp = rest.find(' ');
      field = rest.substr(0, sp);
      rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
    }
    std::string_view mount_point = fields[4];
    auto sp1 = post.find(' ');
    if (sp1 == std::string_view::npos) return;
    std::string_view fstype = post.substr(0, sp1);
    auto sp2 = post.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) return;
    std::string_view super_options = detail::trim(post.substr(sp2 + 1));
    if (fstype == "cgroup2" && !out.v2) {
      out.v2 = std::string(mount_point);
    } else if (fstype == "cgroup" && listHas(super_options, "memory") && !out.v1_memory) {
      out.v1_memory = std::string(mount_point);
    }
  });
  return out;
}

std::string CgroupLocation::describe() const {
  if (!memory_version) return "none";
  return std::string(toString(*memory_version)) + " " + memory_dir;
}

Result<CgroupLocation> resolveCgroup(const SysPaths& paths, const CgroupMounts& mounts,
                                     pid_t pid) {
  auto proc = readProcCgroup(paths, pid);
  if (!proc.ok()) return proc.error();
  CgroupLocation out;
  if (proc->v2 && mounts.v2) {
    out.v2_dir = join(*mounts.v2, *proc->v2);
    if (exists(*out.v2_dir + "/memory.current")) {
      out.memory_version = CgroupVersion::kV2;
      out.memory_dir = *out.v2_dir;
      return out;
    }
  }
  if (proc->v1_memory && mounts.v1_memory) {
    std::string dir = join(*mounts.v1_memory, *proc->v1_memory);
    if (exists(dir + "/memory.usage_in_bytes")) {
      out.memory_version = CgroupVersion::kV1;
      out.memory_dir = std::move(dir);
    }
  }
  return out;
}

Result<CgroupLocation> resolveCgroup(const SysPaths& paths, pid_t pid) {
  return resolveCgroup(paths, probeCgroupMounts(paths), pid);
}

}  // namespace memvisor::sampling
