// Internal to the config loader: the readers of a bot's policy sections (thresholds,
// periodic, predictive, escalation, deadlines, restart, poll, liveness, monitor). The
// ConfigBuilder in validate.cpp reads the rest of the file and derives from this.
#pragma once

#include "validator.hpp"
#include "yaml_tree.hpp"

namespace memvisor::config::detail {

class SectionReader {
 public:
  explicit SectionReader(Validator& v) : v_(v) {}

  // Sustain syntax: a duration ("30s") or a count ("2 samples", "3 cycles").
  std::optional<Sustain> sustain(const PlainNode& n, const std::string& path);
  void thresholds(const PlainNode& n, const std::string& path, std::vector<Threshold>& out,
                  std::vector<Pos>& at_pos);
  void periodic(const PlainNode& n, const std::string& path, std::vector<PeriodicAction>& out,
                std::vector<Pos>& above_pos);
  void predictive(const PlainNode& n, const std::string& path, std::optional<Predictive>& out);
  void escalation(const PlainNode& n, const std::string& path, Escalation& out);
  void deadlines(const PlainNode& n, const std::string& path, Deadlines& out);
  void restart(const PlainNode& n, const std::string& path, RestartPolicy& out);
  std::optional<Bytes> rate(const PlainNode& n, const std::string& path);
  void liveness(const PlainNode& n, const std::string& path, Liveness& out);
  bool monitor(const PlainNode& n, const std::string& path, Monitor& out);
  void poll(const PlainNode& n, const std::string& path, PolicyConfig& out);

 protected:
  Validator& v_;
};

}  // namespace memvisor::config::detail
