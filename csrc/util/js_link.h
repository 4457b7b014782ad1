// JsLink: the one way native threads reach a FrameSourceHandle's JS thread. Owns the thread-safe
// function, the libuv async handle that wakes JS for new items, and a lock-guarded open flag, so that
// once close() returns no thread can touch either again (a late call from a teardown or streaming
// thread becomes a no-op instead of a use of freed memory). call() and wake() run on any thread;
// setWake() and close() on the JS thread of the handle's environment.
#pragma once

#include <napi.h>
#include <uv.h>

#include <functional>
#include <mutex>
#include <utility>

namespace fs {

class JsLink {
 public:
  explicit JsLink(Napi::ThreadSafeFunction tsfn) : tsfn_(std::move(tsfn)) {}
  ~JsLink() = default;  // close() frees the wake handle; an env's teardown closes every link
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

  // JS thread, once: what wake() runs there: `before()`, then `fn` as a callback from the event
  // loop (microtasks run after it; an exception it throws is an uncaught exception).
  //
  // Why not the thread-safe function: Node's signals the loop while holding the function's queue
  // lock, so on a 2-core machine the JS thread wakes, finds the lock still held and sleeps on it
  // again: two futex calls and a context switch more per frame. A libuv async handle takes no lock
  // the JS thread also takes, and coalesces wakes by itself.
  void setWake(Napi::Env env, Napi::Function fn, std::function<void()> before) {
    auto* w = new Waker();
    w->env = env;
    w->before = std::move(before);
    napi_create_reference(env, fn, 1, &w->fn);
    napi_value name;
    napi_create_string_utf8(env, "frame-source", NAPI_AUTO_LENGTH, &name);
    napi_async_init(env, nullptr, name, &w->context);
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    uv_async_init(loop, &w->async, &JsLink::onAsync);
    w->async.data = w;
    // The poll timer (pollAfter) never keeps the loop alive by itself: the async handle does that.
    uv_timer_init(loop, &w->timer);
    w->timer.data = w;
    uv_unref(reinterpret_cast<uv_handle_t*>(&w->timer));
    std::lock_guard<std::mutex> lk(mu_);
    waker_ = w;
  }

  // Any thread: runs the wake callback on the JS thread soon; wakes made before it runs are merged.
  bool wake() {
    std::lock_guard<std::mutex> lk(mu_);
    if (!open_ || !waker_) return false;
    uv_async_send(&waker_->async);
    return true;
  }

  // JS thread: runs the wake callback in `ms` ms unless a wake comes first (one-shot; a later call
  // moves it); 0 stops it. Why not setTimeout: clearTimeout leaves Node's own libuv timer armed for
  // the old deadline, and a timer cleared on every wake then wakes the sleeping JS thread once more
  // for nothing, a second sleep and wake-up per batch of frames (strace: epoll_pwait timing out
  // after 1 ms between two wakes). uv_timer_stop takes it out of the loop's deadlines.
  //
  // No lock: open_ and waker_ change only on this thread (setWake, close), so reading them here
  // races with nothing. Taking mu_ here made the JS thread, woken by wake()'s eventfd write, find
  // mu_ still held by the streaming thread inside that write and sleep on it: a futex wait, a
  // wake and two context switches on most batches (perf: two thirds of the process's futex calls).
  void pollAfter(uint64_t ms) {
    if (!open_ || !waker_) return;
    Waker* w = waker_;
    if (ms == 0)
      uv_timer_stop(&w->timer);
    else
      uv_timer_start(&w->timer, &JsLink::onTimer, ms, 0);
  }

  // JS thread: no call or wake gets through after this. `abort` at environment teardown (pending
  // calls are dropped), otherwise the function is released and drains what was queued.
  void close(bool abort) {
    Waker* w;
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (!open_) return;
      open_ = false;
      if (abort)
        tsfn_.Abort();
      else
        tsfn_.Release();
      w = waker_;
      waker_ = nullptr;
    }
    if (!w) return;
    // A wake still pending is dropped with the handle; the waker is freed once libuv lets go of it.
    napi_delete_reference(w->env, w->fn);
    napi_async_destroy(w->env, w->context);
    auto closed = [](uv_handle_t* h) {
      auto* waker = static_cast<Waker*>(h->data);
      if (--waker->handles == 0) delete waker;
    };
    uv_close(reinterpret_cast<uv_handle_t*>(&w->async), closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&w->timer), closed);
  }

 private:
  struct Waker {
    uv_async_t async;
    uv_timer_t timer;
    int handles = 2;  // freed when libuv has let go of both
    napi_env env = nullptr;
    napi_ref fn = nullptr;
    napi_async_context context = nullptr;
    std::function<void()> before;
  };

  // Called on the JS thread by the event loop after one or more wake()s, or when the poll is due.
  // The callback gets no argument for a wake, `true` for the poll.
  static void onAsync(uv_async_t* handle) { run(static_cast<Waker*>(handle->data), false); }
  static void onTimer(uv_timer_t* handle) { run(static_cast<Waker*>(handle->data), true); }

  static void run(Waker* w, bool polled) {
    if (w->before) w->before();
    napi_env env = w->env;
    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) != napi_ok) return;
    napi_value fn, recv, result, arg = nullptr;
    if (polled) napi_get_boolean(env, true, &arg);
    if (napi_get_reference_value(env, w->fn, &fn) == napi_ok && fn != nullptr &&
        napi_get_global(env, &recv) == napi_ok) {
      if (napi_make_callback(env, w->context, recv, fn, arg ? 1 : 0, &arg, &result) == napi_pending_exception) {
        napi_value error;
        if (napi_get_and_clear_last_exception(env, &error) == napi_ok) napi_fatal_exception(env, error);
      }
    }
    napi_close_handle_scope(env, scope);
  }

  std::mutex mu_;
  bool open_ = true;
  Napi::ThreadSafeFunction tsfn_;
  Waker* waker_ = nullptr;
};

}  // namespace fs
