// A bot's process tree: /proc/PID/task/*/children (CONFIG_PROC_CHILDREN), else a ppid scan.
#include "memvisor/sampling/process_tree.hpp"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <unordered_map>
#include <unordered_set>

#include "memvisor/sampling/process_files.hpp"
#include "text.hpp"

namespace memvisor::sampling {
namespace {

// Numeric entries of a directory; an unreadable directory yields nothing (and sets *err).
std::vector<pid_t> numericEntries(const std::string& dir, int* err) {
  std::vector<pid_t> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (err != nullptr) *err = errno;
    return out;
  }
  while (dirent* e = ::readdir(d)) {
    auto v = detail::toU64(e->d_name);
    if (v) out.push_back(static_cast<pid_t>(*v));
  }
  ::closedir(d);
  return out;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

Error goneError(const SysPaths& paths, pid_t pid) {
  return Error{"gone", "reading " + paths.pidFile(pid, "") + ": no such process"};
}

// Children via task/*/children. nullopt when the kernel lacks the file (fallback needed).
std::optional<std::vector<pid_t>> childrenFromTasks(const SysPaths& paths, pid_t pid) {
  int err = 0;
  std::string task_dir = paths.pidFile(pid, "task");
  std::vector<pid_t> tids = numericEntries(task_dir, &err);
  if (tids.empty()) return std::nullopt;
  std::vector<pid_t> out;
  bool any_file = false;
  for (pid_t tid : tids) {
    auto text = detail::readFile(task_dir + "/" + std::to_string(tid) + "/children");
    if (!text.ok()) continue;  // the thread exited, or no CONFIG_PROC_CHILDREN
    any_file = true;
    auto list = parseChildrenList(*text);
    if (!list.ok()) continue;
    out.insert(out.end(), list->begin(), list->end());
  }
  if (!any_file) return std::nullopt;
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace

Result<std::vector<pid_t>> parseChildrenList(std::string_view text) {
  std::vector<pid_t> out;
  std::string_view rest = text;
  while (!rest.empty()) {
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\n')) rest.remove_prefix(1);
    if (rest.empty()) break;
    auto end = rest.find_first_of(" \n");
    std::string_view tok = rest.substr(0, end);
    auto v = detail::toU64(tok);
    if (!v) return detail::parseError("children: bad pid '" + std::string(tok) + "'");
    out.push_back(static_cast<pid_t>(*v));
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end);
  }
  return out;
}

std::vector<pid_t> listPids(const SysPaths& paths) { return numericEntries(paths.proc_root, nullptr); }

std::vector<pid_t> listChildrenByScan(const SysPaths& paths, pid_t pid) {
  std::vector<pid_t> out;
  for (pid_t candidate : numericEntries(paths.proc_root, nullptr)) {
    auto stat = readStat(paths, candidate);
    if (!stat.ok()) continue;  // vanished between readdir and open: normal
    if (stat->ppid == pid) out.push_back(candidate);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<pid_t>> listChildren(const SysPaths& paths, pid_t pid) {
  if (!exists(paths.pidFile(pid, "stat"))) return goneError(paths, pid);
  if (auto children = childrenFromTasks(paths, pid)) return *children;
  return listChildrenByScan(paths, pid);
}

Result<std::vector<pid_t>> listProcessTree(const SysPaths& paths, pid_t root) {
  if (!exists(paths.pidFile(root, "stat"))) return goneError(paths, root);
  std::vector<pid_t> out{root};
  std::unordered_set<pid_t> seen{root};
  std::deque<pid_t> queue{root};

  // The scan fallback builds the whole ppid map once instead of once per tree node.
  std::optional<std::unordered_map<pid_t, std::vector<pid_t>>> by_parent;
  auto scanChildren = [&](pid_t pid) -> std::vector<pid_t> {
    if (!by_parent) {
      by_parent.emplace();
      for (pid_t candidate : numericEntries(paths.proc_root, nullptr)) {
        auto stat = readStat(paths, candidate);
        if (stat.ok()) (*by_parent)[stat->ppid].push_back(candidate);
      }
    }
    auto it = by_parent->find(pid);
    return it == by_parent->end() ? std::vector<pid_t>{} : it->second;
  };

  while (!queue.empty()) {
    pid_t pid = queue.front();
    queue.pop_front();
    std::vector<pid_t> children;
    if (auto from_tasks = childrenFromTasks(paths, pid)) {
      children = std::move(*from_tasks);
    } else if (exists(paths.pidFile(pid, "stat"))) {
      children = scanChildren(pid);
    }
    for (pid_t child : children) {
      // A child listed a moment ago may already be gone: normal, leave it out.
      if (!exists(paths.pidFile(child, "stat"))) continue;
      // `seen` guards against a corrupt fixture (or pid reuse mid-walk) forming a cycle.
      if (seen.insert(child).second) {
        out.push_back(child);
        queue.push_back(child);
      }
    }
  }
  return out;
}

}  // namespace memvisor::sampling
