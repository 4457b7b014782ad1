// JsLink: the one way native threads reach a FrameSourceHandle's JS thread. Owns the thread-safe
// function and a lock-guarded open flag, so that once close() returns no thread can touch the
// function again (a late call from a teardown or streaming thread becomes a no-op instead of a use
// of freed memory). call() runs on any thread; close() on the JS thread of the handle's environment.
#pragma once

#include <napi.h>

#include <mutex>
#include <utility>

namespace fs {

class JsLink {
 public:
  explicit JsLink(Napi::ThreadSafeFunction tsfn) : tsfn_(std::move(tsfn)) {}
  JsLink(const JsLink&) = delete;
  JsLink& operator=(const JsLink&) = delete;

  // Any thread: queues fn(Napi::Env, Napi::Function) for the JS thread, without blocking. False
  // (and nothing queued) once closed.
  template <typename F>
  bool call(F&& fn) {
    std::lock_guard<std::mutex> lk(mu_);
    if (!open_) return false;
    return tsfn_.NonBlockingCall(std::forward<F>(fn)) == napi_ok;
  }

  // JS thread: no call gets through after this. `abort` at environment teardown (pending calls are
  // dropped), otherwise the function is released and drains what was queued.
  void close(bool abort) {
    std::lock_guard<std::mutex> lk(mu_);
    if (!open_) return;
    open_ = false;
    if (abort)
      tsfn_.Abort();
    else
      tsfn_.Release();
  }

 private:
  std::mutex mu_;
  bool open_ = true;
  Napi::ThreadSafeFunction tsfn_;
};

}  // namespace fs
