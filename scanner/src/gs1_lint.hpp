// The rules between the AIs of one GS1 message, as the GS1 Barcode Syntax
// Dictionary gives them (private to scanner/src; gs1_table.hpp is the AI
// table they come from).
#pragma once

#include "tally/scanner/gs1.hpp"

namespace tally::scanner::gs1 {

// Adds a warning to `d` for each repeated AI, each AI whose required
// companion (req=) is missing and each pair of mutually exclusive AIs (ex=,
// and two measures of one kind such as 3102 with 3103). Returns the first
// element that repeats an AI with a different value (the message is then
// invalid), else null.
const Gs1Element* lint(Gs1Data& d);

}  // namespace tally::scanner::gs1
