// A libFuzzer-compatible driver for builds without -fsanitize=fuzzer: runs
// every file of the given corpus directories (or files) through
// LLVMFuzzerTestOneInput, then seeded random mutations of them, bounded by
// count and time, so ctest always runs a small deterministic-ish slice.
//
//   <target>_fuzz [--runs N] [--seconds S] [--seed X] PATH…
//
// Exit 0 when everything ran; a failing invariant aborts (non-zero). The
// mutations depend only on the seed and the corpus, so a failure reproduces
// with the same --seed (the time bound only cuts the run short), and
// TALLY_FUZZ_SAVE=FILE keeps the input that crashed.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

using Bytes = std::string;

// TALLY_FUZZ_SAVE=FILE: each input is written there before it runs, so after
// a crash FILE holds the input that crashed (to add to the seed corpus).
const char* const kSaveTo = std::getenv("TALLY_FUZZ_SAVE");

void run(const Bytes& b) {
  if (kSaveTo != nullptr) std::ofstream(kSaveTo, std::ios::binary | std::ios::trunc) << b;
  // A copy in its own allocation, so ASan (when on) sees reads past the end.
  std::vector<std::uint8_t> buf(b.begin(), b.end());
  LLVMFuzzerTestOneInput(buf.data(), buf.size());
}

Bytes read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Tokens that matter to the parsers, spliced in by the mutator.
const std::vector<Bytes> kTokens = {"\x1D", "(", ")", "\\(", "]C1", "]d2", "]E0", "]Q1", "01", "00", "02", "10",
                                    "17", "21", "37", "3103", "414", "254", "8008", "90", "<GS>", "|", "^]",
                                    "https://e.com/", "/01/", "/10/", "?", "&", "=", "%", "%2F", "%G", "#",
                                    "09506000134352", "261231", "000000", "999999", "\0", "\xff"};

Bytes mutate(Bytes b, const std::vector<Bytes>& corpus, std::mt19937_64& rng) {
  auto pick = [&](std::size_t n) { return n == 0 ? std::size_t{0} : static_cast<std::size_t>(rng() % n); };
  const int steps = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < steps; ++i) {
    const std::size_t at = pick(b.size() + 1);
    switch (rng() % 7) {
      case 0:  // flip a byte
        if (!b.empty()) b[pick(b.size())] = static_cast<char>(rng() & 0xFF);
        break;
      case 1:  // insert a random byte
        b.insert(at, 1, static_cast<char>(rng() & 0xFF));
        break;
      case 2:  // erase a range
        if (!b.empty()) b.erase(pick(b.size()), 1 + pick(8));
        break;
      case 3:  // insert a token
        b.insert(at, kTokens[pick(kTokens.size())]);
        break;
      case 4:  // duplicate a chunk
        if (!b.empty()) {
          const std::size_t from = pick(b.size());
          b.insert(at, b.substr(from, 1 + pick(16)));
        }
        break;
      case 5:  // splice with another corpus entry
        if (!corpus.empty()) {
          const Bytes& o = corpus[pick(corpus.size())];
          b = b.substr(0, at) + o.substr(pick(o.size() + 1));
        }
        break;
      default:  // replace a digit by another
        if (!b.empty()) {
          const std::size_t k = pick(b.size());
          if (b[k] >= '0' && b[k] <= '9') b[k] = static_cast<char>('0' + rng() % 10);
        }
        break;
    }
  }
  if (b.size() > 8192) b.resize(8192);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  long runs = 20000;
  double seconds = 2.0;
  std::uint64_t seed = 1;
  std::vector<Bytes> corpus;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc) {
      runs = std::strtol(argv[++i], nullptr, 10);
    } else if (a == "--seconds" && i + 1 < argc) {
      seconds = std::strtod(argv[++i], nullptr);
    } else if (a == "--seed" && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::filesystem::is_directory(a)) {
      for (const auto& e : std::filesystem::directory_iterator(a))
        if (e.is_regular_file()) corpus.push_back(read_file(e.path()));
    } else if (std::filesystem::is_regular_file(a)) {
      corpus.push_back(read_file(a));
    } else {
      std::fprintf(stderr, "usage: %s [--runs N] [--seconds S] [--seed X] CORPUS_DIR_OR_FILE…\n", argv[0]);
      return 2;
    }
  }
  if (corpus.empty()) {
    std::fprintf(stderr, "%s: empty corpus\n", argv[0]);
    return 2;
  }
  for (const auto& c : corpus) run(c);
  std::mt19937_64 rng(seed);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  long done = 0;
  while (done < runs && std::chrono::steady_clock::now() < deadline) {
    run(mutate(corpus[static_cast<std::size_t>(rng() % corpus.size())], corpus, rng));
    ++done;
  }
  std::printf("%zu corpus inputs, %ld mutations (seed %llu): ok\n", corpus.size(), done,
              static_cast<unsigned long long>(seed));
  return 0;
}
