// logfmt, as every memvisor line writer spells it (the journal on stderr, the C++ bot
// client's log lines, memvisorctl's events): keys keep letters, digits, '_', '.', '-' (the
// rest becomes '_'); a value is quoted when empty or holding a space, '"', '=', '\\' or a
// control character, and inside quotes '"' and '\\' are escaped, \n \r \t spelled out and
// other control characters written \u00XX, so one entry is always one line.
#pragma once

#include <string>
#include <string_view>

namespace memvisor {

std::string logfmtKey(std::string_view key);
std::string logfmtValue(std::string_view value);

}  // namespace memvisor
