// What the GS1 front ends share (private to scanner/src): element strings and
// HRI (gs1.cpp) and Digital Link (gs1_digital_link.cpp) find (AI, data)
// pairs; make_element() validates each one the same way whatever its form.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "gs1_table.hpp"
#include "tally/scanner/gs1.hpp"

namespace tally::scanner::gs1 {

inline constexpr std::size_t kMaxText = 4096;  // longer than any GS1 symbol holds

struct Ctx {
  std::string_view ai;
  std::size_t off;       // of the AI
  std::size_t data_off;  // of the data
  int ref_year;
};

// "AI <ai> at offset <off>: <what>" under `code`.
Error fail(std::string code, std::string_view ai, std::size_t off, const std::string& what);
// 'x' for a printable character, "byte 0xNN" otherwise.
std::string show_char(char c);
// The first character of d[from..] that is not a digit, as an error.
std::optional<Error> need_digits(const Ctx& c, std::string_view d, std::size_t from = 0);
// Validates `data` for `spec` (or an unknown AI when spec is null) and fills
// in the typed fields.
Result<Gs1Element> make_element(const AiSpec* spec, std::string_view ai, std::string_view data, const Ctx& c);
// The dictionary's linters on each component of `data` (gs1_linters.cpp).
std::optional<Error> run_linters(const AiSpec& spec, std::string_view data, const Ctx& c);
// Duplicates (error when the values differ), then the AI association rules
// as warnings (gs1_lint.cpp).
std::optional<Error> check_message(Gs1Data& d);
// The year of the two-digit-year window: the option's, or the current one.
int ref_year(const Gs1Options& o);

}  // namespace tally::scanner::gs1
