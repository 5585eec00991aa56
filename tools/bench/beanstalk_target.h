// The beanstalk target: beanstalkd as the queue, one connection per session, a fresh
// tube per run. Enqueue is a pipelined `put` per message, Dequeue a blocking
// `reserve-with-timeout` plus pipelined non-blocking ones up to the batch, Ack a
// pipelined `delete` per job. Durability is whatever beanstalkd was started with
// (`-b DIR -f 0` fsyncs every write before replying).
#pragma once

#include <memory>
#include <string>

#include "tools/bench/target.h"

namespace pgqrs::bench {

// `server` is beanstalkd's HOST:PORT.
std::unique_ptr<Target> NewBeanstalkTarget(const std::string& server);

}  // namespace pgqrs::bench
