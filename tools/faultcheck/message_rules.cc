// Message rules. A lease is checked only over the interval in which it was certainly held:
// from the end of the Dequeue call that returned it (the server granted it before replying)
// until the earlier of the server-reported visible_at (minus CheckOptions::clock_margin_us)
// and the start of the first Ack or Nack sent with its receipt (whatever that call
// returned: it may have ended the lease). A later lease of the same message can only be
// granted once the server's clock has passed visible_at, so it is returned after that
// instant and the two intervals cannot overlap unless two leases really were valid at once.
#include <algorithm>
#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "tools/faultcheck/rules.h"

namespace pgqrs::faultcheck {
namespace {

struct Delivery {
  size_t event;
  std::string receipt;
  int64_t start;
  int64_t end;
  int64_t visible_at;
};

struct MessageFacts {
  std::optional<size_t> enqueue;
  std::vector<Delivery> deliveries;
  std::vector<size_t> acks_ok;
  std::optional<size_t> final_event;
};

// The first Ack or Nack sent with a receipt.
struct LeaseCut {
  size_t event;
  int64_t start;
};

struct Facts {
  std::map<int64_t, MessageFacts> messages;
  std::map<std::string, LeaseCut> cuts;
};

Facts Collect(const History& history) {
  Facts facts;
  for (size_t i = 0; i < history.size(); ++i) {
    const Event& e = history[i];
    const std::string op = e.value("op", "");
    if (op == "enqueue" && IsOk(e)) {
      for (int64_t id : e.value("ids", std::vector<int64_t>{})) facts.messages[id].enqueue = i;
    } else if (op == "dequeue" && IsOk(e)) {
      for (const Event& m : e.value("messages", Event::array())) {
        facts.messages[m.at("id").get<int64_t>()].deliveries.push_back(
            {i, m.at("receipt").get<std::string>(), Start(e), End(e),
             m.at("visible_at").get<int64_t>()});
      }
    } else if (op == "ack" || op == "nack") {
      std::string receipt = e.value("receipt", "");
      auto [it, inserted] = facts.cuts.try_emplace(receipt, LeaseCut{i, Start(e)});
      if (!inserted && Start(e) < it->second.start) it->second = {i, Start(e)};
      if (op == "ack" && IsOk(e) && e.value("result", "") == "OK") {
        facts.messages[e.value("id", int64_t{0})].acks_ok.push_back(i);
      }
    } else if (op == "final_message") {
      facts.messages[e.value("id", int64_t{0})].final_event = i;
    }
  }
  return facts;
}

void CheckDelivered(const History& history, int64_t id, const MessageFacts& m,
                    CheckResult* result) {
  if (!m.enqueue) return;
  ++result->messages_checked;
  std::string state = m.final_event ? history[*m.final_event].value("state", "") : "not read";
  if (state == "ARCHIVED" || state == "DEAD") return;
  Violation v{"lost_enqueue",
              absl::StrCat("message ", id, ": Enqueue returned OK, final state ", state),
              {*m.enqueue}};
  for (const Delivery& d : m.deliveries) v.events.push_back(d.event);
  if (m.final_event) v.events.push_back(*m.final_event);
  result->violations.push_back(std::move(v));
}

void CheckNoDeliveryAfterAck(const History& history, int64_t id, const MessageFacts& m,
                             CheckResult* result) {
  for (size_t ack : m.acks_ok) {
    for (const Delivery& d : m.deliveries) {
      if (d.start <= End(history[ack])) continue;
      result->violations.push_back(
          {"delivered_after_ack",
           absl::StrCat("message ", id, ": Dequeue started after an Ack returned OK and got it"),
           {ack, d.event}});
    }
  }
}

struct HeldLease {
  const Delivery* delivery;
  int64_t from;
  int64_t until;
  std::optional<size_t> cut_event;
};

std::vector<HeldLease> HeldLeases(const MessageFacts& m, const Facts& facts,
                                  int64_t clock_margin_us) {
  std::vector<HeldLease> leases;
  for (const Delivery& d : m.deliveries) {
    HeldLease lease{&d, d.end, d.visible_at - clock_margin_us, std::nullopt};
    auto cut = facts.cuts.find(d.receipt);
    if (cut != facts.cuts.end() && cut->second.start < lease.until) {
      lease.until = cut->second.start;
      lease.cut_event = cut->second.event;
    }
    if (lease.until > lease.from) leases.push_back(lease);
  }
  std::sort(leases.begin(), leases.end(),
            [](const HeldLease& a, const HeldLease& b) { return a.from < b.from; });
  return leases;
}

void CheckLeasesDisjoint(int64_t id, const MessageFacts& m, const Facts& facts,
                         const CheckOptions& options, CheckResult* result) {
  std::vector<HeldLease> leases = HeldLeases(m, facts, options.clock_margin_us);
  result->leases_checked += static_cast<int64_t>(leases.size());
  for (size_t a = 0; a < leases.size(); ++a) {
    for (size_t b = a + 1; b < leases.size() && leases[b].from < leases[a].until; ++b) {
      if (leases[a].delivery->receipt == leases[b].delivery->receipt) continue;
      Violation v{"overlapping_leases",
                  absl::StrCat("message ", id, ": two receipts held at once for ",
                               leases[a].until - leases[b].from, " us"),
                  {leases[a].delivery->event, leases[b].delivery->event}};
      if (leases[a].cut_event) v.events.push_back(*leases[a].cut_event);
      result->violations.push_back(std::move(v));
    }
  }
}

}  // namespace

void CheckMessages(const History& history, const CheckOptions& options, CheckResult* result) {
  Facts facts = Collect(history);
  for (const auto& [id, m] : facts.messages) {
    CheckDelivered(history, id, m, result);
    CheckNoDeliveryAfterAck(history, id, m, result);
    CheckLeasesDisjoint(id, m, facts, options, result);
  }
}

}  // namespace pgqrs::faultcheck
