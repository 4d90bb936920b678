#include <string>
#include <vector>

#include "tally/ledger/app.hpp"

int main(int argc, char** argv) {
  return tally::ledger::run(std::vector<std::string>(argv + 1, argv + argc));
}
