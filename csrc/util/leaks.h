// Test-only diagnostics: the objects GStreamer's `leaks` tracer counts as alive. Not part of the
// public API (exposed as the binding's private `_liveObjects`). Runs on the JS thread.
#pragma once

#include <napi.h>

namespace fs {
// _liveObjects(): [{ type, address }] for every object the leaks tracer counts as alive, or null
// when the process was not started with GST_TRACERS=leaks.
Napi::Value liveObjects(const Napi::CallbackInfo& info);
}  // namespace fs
