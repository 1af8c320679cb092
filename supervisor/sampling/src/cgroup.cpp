// Locating a process's memory cgroup (v1 memory hierarchy or cgroup2).
#include "memvisor/sampling/cgroup.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <charconv>

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
  if (auto text = detail::readPidFile(paths.procFile("self/mountinfo")); text.ok()) {
    CgroupMounts found = parseMountInfo(*text);
    if (!found.v1_memory_mounts.empty() || !found.v2_mounts.empty()) {
      CgroupMounts out;
      for (auto m : found.v1_memory_mounts) {
        m.mount_point = paths.cgroupMountPoint(m.mount_point);
        out.v1_memory_mounts.push_back(std::move(m));
      }
      for (auto m : found.v2_mounts) {
        m.mount_point = paths.cgroupMountPoint(m.mount_point);
        out.v2_mounts.push_back(std::move(m));
      }
      if (!out.v1_memory_mounts.empty()) out.v1_memory = out.v1_memory_mounts.front().mount_point;
      if (!out.v2_mounts.empty()) out.v2 = out.v2_mounts.front().mount_point;
      return out;
    }
  }
  CgroupMounts out;
  const std::string& root = paths.cgroup_root;
  if (isDir(root + "/memory")) out.v1_memory = root + "/memory";
  if (exists(root + "/cgroup.controllers")) {
    out.v2 = root;
  } else if (exists(root + "/unified/cgroup.controllers")) {
    out.v2 = root + "/unified";
  }
  if (out.v1_memory) out.v1_memory_mounts.push_back({"/", *out.v1_memory});
  if (out.v2) out.v2_mounts.push_back({"/", *out.v2});
  return out;
}

namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo (octal).
std::string unescapeMountField(std::string_view field) {
  const auto oct = [](char c) { return c >= '0' && c <= '7'; };
  std::string out;
  out.reserve(field.size());
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() &&
        oct(field[i + 1]) && oct(field[i + 2]) && oct(field[i + 3])) {
      out += static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                               (field[i + 3] - '0'));
      i += 3;
    } else {
      out += field[i];
    }
  }
  return out;
}

// "/a/b" is under "/a" and under "/"; "/ab" is not under "/a".
bool underRoot(std::string_view path, std::string_view root) {
  if (root.empty() || root == "/") return !path.empty() && path.front() == '/';
  if (path.substr(0, root.size()) != root) return false;
  return path.size() == root.size() || path[root.size()] == '/';
}

}  // namespace

CgroupMounts parseMountInfo(std::string_view text) {
  // "36 25 0:32 /docker/abc /sys/fs/cgroup/memory ro,relatime shared:15 - cgroup cgroup rw,memory"
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
    if (fields[3].empty() || fields[4].empty()) return;
    CgroupMount mount{unescapeMountField(fields[3]), unescapeMountField(fields[4])};
    auto sp1 = post.find(' ');
    if (sp1 == std::string_view::npos) return;
    std::string_view fstype = post.substr(0, sp1);
    auto sp2 = post.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) return;
    std::string_view super_options = detail::trim(post.substr(sp2 + 1));
    if (fstype == "cgroup2") {
      out.v2_mounts.push_back(std::move(mount));
    } else if (fstype == "cgroup" && listHas(super_options, "memory")) {
      out.v1_memory_mounts.push_back(std::move(mount));
    }
  });
  if (!out.v1_memory_mounts.empty()) out.v1_memory = out.v1_memory_mounts.front().mount_point;
  if (!out.v2_mounts.empty()) out.v2 = out.v2_mounts.front().mount_point;
  return out;
}

std::optional<std::string> mapCgroupPath(const std::vector<CgroupMount>& mounts,
                                         std::string_view path) {
  const CgroupMount* best = nullptr;
  for (const auto& m : mounts) {
    if (!underRoot(path, m.root)) continue;
    if (!best || m.root.size() > best->root.size()) best = &m;
  }
  if (!best) return std::nullopt;
  std::string rel(best->root == "/" ? path : path.substr(best->root.size()));
  return join(best->mount_point, rel);
}

std::string CgroupLocation::describe() const {
  if (!memory_version) return "none";
  return std::string(toString(*memory_version)) + " " + memory_dir;
}

namespace {

// Mounts ordered by how specifically they show `path` (longest matching root first): a
// container's own group mounted at the usual place never hides the bot's group mounted beside.
std::vector<std::string> candidateDirs(const std::vector<CgroupMount>& mounts,
                                       const std::string& path) {
  std::vector<const CgroupMount*> matching;
  for (const auto& m : mounts) {
    if (underRoot(path, m.root)) matching.push_back(&m);
  }
  std::stable_sort(matching.begin(), matching.end(), [](const CgroupMount* a, const CgroupMount* b) {
    return a->root.size() > b->root.size();
  });
  std::vector<std::string> out;
  for (const CgroupMount* m : matching) {
    if (auto dir = mapCgroupPath({*m}, path)) out.push_back(*dir);
  }
  return out;
}

}  // namespace

Result<CgroupLocation> resolveCgroup(const SysPaths& paths, const CgroupMounts& mounts,
                                     pid_t pid) {
  auto proc = readProcCgroup(paths, pid);
  if (!proc.ok()) return proc.error();
  CgroupLocation out;
  if (proc->v2) {
    for (const auto& dir : candidateDirs(mounts.v2_mounts, *proc->v2)) {
      if (!isDir(dir)) continue;
      if (!out.v2_dir) out.v2_dir = dir;
      if (exists(dir + "/memory.current")) {
        out.v2_dir = dir;
        out.memory_version = CgroupVersion::kV2;
        out.memory_dir = dir;
        return out;
      }
    }
  }
  if (proc->v1_memory) {
    for (const auto& dir : candidateDirs(mounts.v1_memory_mounts, *proc->v1_memory)) {
      if (exists(dir + "/memory.usage_in_bytes")) {
        out.memory_version = CgroupVersion::kV1;
        out.memory_dir = dir;
        break;
      }
    }
  }
  return out;
}

Result<CgroupLocation> resolveCgroup(const SysPaths& paths, pid_t pid) {
  return resolveCgroup(paths, probeCgroupMounts(paths), pid);
}

std::string CgroupSharing::describe() const {
  if (!shared()) return "";
  if (holds_self) {
    const std::size_t others = members > 0 ? members - 1 : 0;
    return "holds memvisord itself and " + std::to_string(others) + " other process" +
           (others == 1 ? "" : "es");
  }
  return "holds processes besides the bot's";
}

Result<CgroupSharing> classifyCgroupMembers(const SysPaths& paths, const std::string& dir,
                                            pid_t bot, pid_t self) {
  const std::string path = dir + "/cgroup.procs";
  auto text = detail::readFile(path);
  if (!text.ok()) return text.error();
  auto ppidOf = [&](pid_t pid) -> std::optional<pid_t> {
    auto stat = detail::readPidFile(paths.pidFile(pid, "stat"));
    if (!stat.ok()) return std::nullopt;
    // comm may hold anything: fields resume after the LAST ')'.
    const auto close = stat->rfind(')');
    if (close == std::string::npos || close + 4 >= stat->size()) return std::nullopt;
    std::string_view rest = std::string_view(*stat).substr(close + 4);  // ") S " then ppid
    pid_t ppid = 0;
    auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), ppid);
    if (ec != std::errc()) return std::nullopt;
    return ppid;
  };
  // The bot's ancestors (a container's init, a shell wrapper) are not foreign.
  std::vector<pid_t> ancestors;
  for (pid_t p = bot; p > 1 && ancestors.size() < 64;) {
    auto pp = ppidOf(p);
    if (!pp) break;
    ancestors.push_back(*pp);
    p = *pp;
  }
  CgroupSharing out;
  std::vector<pid_t> members;
  detail::forEachLine(*text, [&](std::string_view line) {
    line = detail::trim(line);
    pid_t pid = 0;
    auto [ptr, ec] = std::from_chars(line.data(), line.data() + line.size(), pid);
    if (ec == std::errc() && pid > 0) members.push_back(pid);
  });
  out.members = members.size();
  // memvisord's own group (every bot without one, in issue 14's 1,000): decided without
  // reading a single member's stat.
  if (std::find(members.begin(), members.end(), self) != members.end()) {
    out.holds_self = true;
    return out;
  }
  for (pid_t pid : members) {
    if (pid == bot || std::find(ancestors.begin(), ancestors.end(), pid) != ancestors.end()) {
      continue;
    }
    // A descendant of the bot: its ppid chain reaches the bot.
    bool descendant = false, vanished = false;
    pid_t p = pid;
    for (int depth = 0; depth < 64; ++depth) {
      auto pp = ppidOf(p);
      if (!pp) {
        vanished = true;
        break;
      }
      if (*pp == bot) {
        descendant = true;
        break;
      }
      if (*pp <= 1) break;
      p = *pp;
    }
    if (descendant || vanished) continue;
    ++out.foreign;
    break;  // one is enough to call the group shared
  }
  return out;
}

}  // namespace memvisor::sampling
