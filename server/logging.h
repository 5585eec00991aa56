// Logging set-up: spdlog to stderr (journald and containers collect it), as text or as
// one JSON object per line.
#pragma once

#include <string>

namespace pgqrs::server {

// REQUIRES: level and format were validated by LoadConfig.
void SetUpLogging(const std::string& level, const std::string& format);

// Changes the level of the logger SetUpLogging made. REQUIRES: a valid level.
void SetLogLevel(const std::string& level);

}  // namespace pgqrs::server
