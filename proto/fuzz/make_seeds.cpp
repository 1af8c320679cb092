// Builds the fuzzer's seed corpus from the golden vectors: one file per frame vector and
// one multi-frame stream per session vector. Usage: make_seeds VECTORS_DIR OUT_DIR
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string fromHex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

int writeAll(const fs::path& dir, const fs::path& out, const char* prefix) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_regular_file() || e.path().extension() != ".jsonl") continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      const json v = json::parse(line);
      std::string seed;
      if (v.contains("steps")) {
        for (const auto& s : v["steps"]) seed += s["frame"].get<std::string>() + "\n";
      } else if (v.contains("frame_hex")) {
        seed = fromHex(v["frame_hex"].get<std::string>());
      } else {
        seed = v["frame"].get<std::string>();
      }
      std::ofstream(out / (std::string(prefix) + v["name"].get<std::string>()),
                    std::ios::binary)
          << seed;
      ++n;
    }
  }
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: make_seeds VECTORS_DIR OUT_DIR\n";
    return 2;
  }
  const fs::path vectors = argv[1];
  const fs::path out = argv[2];
  fs::remove_all(out);
  fs::create_directories(out);
  const int frames = writeAll(vectors, out, "frame_");
  const int sessions = writeAll(vectors / "sessions", out, "session_");
  std::cout << "make_seeds: " << frames << " frame and " << sessions << " session seeds in "
            << out.string() << "\n";
  return frames > 0 && sessions > 0 ? 0 : 1;
}
