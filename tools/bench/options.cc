#include "tools/bench/options.h"

#include <algorithm>

namespace pgqrs::bench {

const char* ScenarioName(Scenario scenario) {
  switch (scenario) {
    case Scenario::kEnqueue:
      return "enqueue";
    case Scenario::kLifecycle:
      return "lifecycle";
    case Scenario::kLongPoll:
      return "longpoll";
    case Scenario::kDrain:
      return "drain";
  }
  return "?";
}

bool ParseScenario(const std::string& name, Scenario* scenario) {
  for (Scenario s :
       {Scenario::kEnqueue, Scenario::kLifecycle, Scenario::kLongPoll, Scenario::kDrain}) {
    if (name == ScenarioName(s)) {
      *scenario = s;
      return true;
    }
  }
  return false;
}

int64_t EffectiveBacklog(const WorkloadOptions& options) {
  if (options.max_backlog > 0) return options.max_backlog;
  return int64_t{2} * options.batch * options.window *
         std::max({1, options.producers, options.consumers});
}

}  // namespace pgqrs::bench
