// The GS1 Syntax Dictionary's rules between the AIs of one message
// (gs1_lint.hpp): repeats, req= (an AI needs another) and ex= (mutually
// exclusive AIs).
#include "gs1_lint.hpp"

#include <set>
#include <string>

#include "gs1_table.hpp"

namespace tally::scanner::gs1 {
namespace {

// "31nn" matches "3103"; "02" matches "02".
bool ai_matches(std::string_view pattern, std::string_view ai) {
  if (pattern.size() != ai.size()) return false;
  for (std::size_t i = 0; i < ai.size(); ++i)
    if (pattern[i] != 'n' && pattern[i] != ai[i]) return false;
  return true;
}

template <typename F>
void split(std::string_view s, char sep, F&& f) {
  std::size_t b = 0;
  while (b <= s.size()) {
    auto e = s.find(sep, b);
    if (e == std::string_view::npos) e = s.size();
    if (e > b) f(s.substr(b, e - b));
    b = e + 1;
  }
}

}  // namespace

const Gs1Element* lint(Gs1Data& d) {
  auto& els = d.elements;
  std::set<std::string> seen;
  auto warn = [&](std::string w) {
    if (seen.insert(w).second) d.warnings.push_back(std::move(w));
  };
  for (std::size_t i = 0; i < els.size(); ++i)
    for (std::size_t j = i + 1; j < els.size(); ++j) {
      if (els[i].ai != els[j].ai) continue;
      if (els[i].raw != els[j].raw) return &els[j];
      warn("AI " + els[i].ai + " appears more than once");
    }
  for (const auto& e : els) {
    const AiSpec* spec = e.known ? gs1::find_ai(e.ai) : nullptr;
    if (spec == nullptr) continue;
    split(spec->req, ' ', [&](std::string_view group) {
      bool ok = false;
      std::string names;
      split(group, ',', [&](std::string_view alt) {  // "01+21": 01 and 21 together
        bool all = true;
        std::string name;
        split(alt, '+', [&](std::string_view one) {
          bool found = false;
          for (const auto& o : els)
            if (&o != &e && ai_matches(one, o.ai)) found = true;
          all = all && found;
          name += (name.empty() ? "" : " with ") + std::string(one);
        });
        ok = ok || all;
        names += (names.empty() ? "" : ", ") + name;
      });
      if (!ok)
        warn("AI " + e.ai + " requires " + (names.find(',') == std::string::npos ? "AI " : "one of AI ") + names);
    });
    auto exclusive = [&](const Gs1Element& o) {
      const auto& a = e.ai < o.ai ? e.ai : o.ai;
      const auto& b = e.ai < o.ai ? o.ai : e.ai;
      warn("AI " + a + " and AI " + b + " are mutually exclusive");
    };
    split(spec->ex, ',', [&](std::string_view alt) {
      for (const auto& o : els)
        if (&o != &e && o.ai != e.ai && ai_matches(alt, o.ai)) exclusive(o);
    });
    if (spec->family)  // 3102 with 3103: one measure of a kind
      for (const auto& o : els)
        if (&o != &e && o.ai != e.ai && o.ai.size() == 4 && o.ai.compare(0, 3, spec->ai) == 0) exclusive(o);
  }
  return nullptr;
}

}  // namespace tally::scanner::gs1
