// Progress draws one status line on stderr, rewritten in place, while a run goes on.
// It does nothing unless stderr is a terminal, so logs and pipes stay clean.
//
// Thread safety: none; the driver thread owns it.
#pragma once

#include <string>

namespace pgqrs::bench {

class Progress {
 public:
  // `enabled` false turns it off even on a terminal.
  explicit Progress(bool enabled);
  // Clears the line.
  ~Progress();

  // Replaces the line with `text`.
  void Show(const std::string& text);

 private:
  bool active_;
};

}  // namespace pgqrs::bench
