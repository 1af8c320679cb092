// Sampler: one struct of memory figures per bot per tick, PSS at a lower rate.
#include "memvisor/sampling/sampler.hpp"

#include <poll.h>

#include <algorithm>

#include "memvisor/sampling/process_tree.hpp"

namespace memvisor::sampling {

Sampler::Sampler(SysPaths paths, pid_t root, SamplerOptions options)
    : paths_(std::move(paths)), root_(root), options_(std::move(options)) {
  if (options_.cgroup) {
    cgroup_ = options_.cgroup;
    cgroup_resolved_ = true;
  }
}

void Sampler::reset(pid_t new_root) {
  root_ = new_root;
  statm_.clear();
  pss_bytes_.reset();
  uss_bytes_.reset();
  pss_at_.reset();
  pss_due_ = true;
  cgroup_resolved_ = options_.cgroup.has_value();
  cgroup_ = options_.cgroup;
  tree_.clear();
  slow_at_.reset();
  slow_due_ = true;
  rss_anon_ = rss_file_ = rss_shmem_ = swap_ = 0;
  cgroup_memory_.reset();
}

Result<BotSample> Sampler::sample(Clock::time_point now) {
  BotSample out;
  out.at = now;
  out.root_pid = root_;

  // The root's statm must be the bot's, not a stranger's that got its pid after it died. A
  // kept fd is bound to the pid incarnation it was opened on and reads "gone" once that ends,
  // so it is opened once and read with one pread a sample (about 1 us; open+read+close costs
  // five times that, which is most of an idle bot's cost when memvisord watches a thousand).
  // With the bot's pidfd, the open is proven to have found the bot: a pidfd that does not
  // poll readable after the open means the pid still named the bot when the fd was bound.
  auto root_it = statm_.find(root_);
  if (root_it == statm_.end()) {
    auto reader = StatmReader::open(paths_, root_);
    if (!reader.ok()) return reader.error();
    if (options_.root_pidfd >= 0) {
      pollfd p{options_.root_pidfd, POLLIN, 0};
      if (::poll(&p, 1, 0) > 0 && (p.revents & POLLIN) != 0) {
        return Error{"gone", "pid " + std::to_string(root_) + " has exited"};
      }
    }
    root_it = statm_.emplace(root_, std::move(reader).value()).first;
  }
  Result<Statm> root_statm = root_it->second.read();
  if (!root_statm.ok()) return root_statm.error();

  const bool slow = slow_due_ || !slow_at_ || now - *slow_at_ >= options_.slow_interval;
  std::vector<pid_t> pids{root_};
  if (options_.follow_tree) {
    if (slow) {
      auto tree = listProcessTree(paths_, root_);
      if (!tree.ok()) return tree.error();
      pids = std::move(tree).value();
    } else if (!tree_.empty()) {
      pids = tree_;
    }
  }

  std::vector<pid_t> alive;
  alive.reserve(pids.size());
  std::uint64_t anon = 0, file = 0, shmem = 0, swap = 0;
  for (pid_t pid : pids) {
    std::optional<Statm> statm;
    if (pid == root_) {
      statm = *root_statm;
    } else {
      auto it = statm_.find(pid);
      if (it != statm_.end()) {
        auto r = it->second.read();
        if (r.ok()) {
          statm = *r;
        } else {
          statm_.erase(it);  // exited, maybe reused by the child we see now: reopen below
        }
      }
      if (!statm && slow) {
        auto reader = StatmReader::open(paths_, pid);
        if (!reader.ok()) continue;  // vanished: normal
        auto r = reader->read();
        if (!r.ok()) continue;
        statm = *r;
        statm_.emplace(pid, std::move(reader).value());
      }
      if (!statm) continue;  // left the tree since the last refresh
    }
    alive.push_back(pid);
    out.rss_bytes += statm->resident_bytes;
    if (slow && options_.read_status) {
      auto status = readStatus(paths_, pid);
      if (status.ok()) {
        anon += status->rss_anon_bytes.value_or(0);
        file += status->rss_file_bytes.value_or(0);
        shmem += status->rss_shmem_bytes.value_or(0);
        swap += status->vm_swap_bytes.value_or(0);
      }
    }
  }
  out.process_count = alive.size();
  if (slow) {
    rss_anon_ = anon;
    rss_file_ = file;
    rss_shmem_ = shmem;
    swap_ = swap;
    slow_at_ = now;
    slow_due_ = false;
  }
  tree_ = alive;
  out.rss_anon_bytes = rss_anon_;
  out.rss_file_bytes = rss_file_;
  out.rss_shmem_bytes = rss_shmem_;
  out.swap_bytes = swap_;
  out.slow_at = slow_at_;
  out.slow_fresh = slow;

  // Forget fds of processes that left the tree, so nothing grows without bound.
  if (slow) {
    for (auto it = statm_.begin(); it != statm_.end();) {
      if (std::find(alive.begin(), alive.end(), it->first) == alive.end()) {
        it = statm_.erase(it);
      } else {
        ++it;
      }
    }
  }

  if (pss_due_ || !pss_at_ || now - *pss_at_ >= options_.pss_interval) {
    samplePss(alive, now, out);
  }
  out.pss_bytes = pss_bytes_;
  out.uss_bytes = uss_bytes_;
  out.pss_at = pss_at_;

  sampleCgroup(slow, out);
  return out;
}

void Sampler::sampleCgroup(bool slow, BotSample& out) {
  if (!cgroup_resolved_) {
    auto location = resolveCgroup(paths_, root_);
    if (location.ok()) {
      cgroup_ = *location;
      cgroup_resolved_ = true;
    } else {
      out.cgroup_error = location.error();
    }
  }
  if (!cgroup_ || !cgroup_->hasMemory()) return;
  if (slow || !cgroup_memory_) {
    auto memory = readCgroupMemory(*cgroup_);
    if (!memory.ok()) {
      out.cgroup_error = memory.error();
      return;
    }
    cgroup_memory_ = std::move(memory).value();
  } else {
    // Between refreshes only the usage file: the working set follows it with the last
    // inactive_file figure.
    auto usage = readCgroupUsage(*cgroup_);
    if (!usage.ok()) {
      out.cgroup_error = usage.error();
      return;
    }
    cgroup_memory_->usage_bytes = *usage;
    cgroup_memory_->working_set_bytes =
        workingSet(*usage, cgroup_memory_->stat.inactive_file_bytes);
  }
  out.cgroup_usage_bytes = cgroup_memory_->usage_bytes;
  out.cgroup_limit_bytes = cgroup_memory_->limit_bytes;
  out.working_set_bytes = cgroup_memory_->working_set_bytes;
  out.oom_kill_count = cgroup_memory_->oom_kill_count;
  out.cgroup = cgroup_memory_;
}

void Sampler::samplePss(const std::vector<pid_t>& pids, Clock::time_point now, BotSample& out) {
  std::uint64_t pss = 0, uss = 0;
  bool any = false;
  for (pid_t pid : pids) {
    auto rollup = readSmapsRollup(paths_, pid);
    if (!rollup.ok()) continue;  // vanished (or a zombie's empty rollup)
    pss += rollup->pss_bytes;
    uss += rollup->ussBytes();
    any = true;
  }
  if (!any) return;  // keep the previous figures; try again next sample
  pss_bytes_ = pss;
  uss_bytes_ = uss;
  pss_at_ = now;
  pss_due_ = false;
  out.pss_fresh = true;
}

}  // namespace memvisor::sampling
