// The CPU backend: upstream writes into ring slots through GstSlotPool; frames that arrive in other
// memory are copied into a slot by the core (pipeline.cc), which owns the ring's bookkeeping.
// Runs on the JS thread (probe) and on the upstream streaming thread (newPool).
#include "backends/cpu.h"

#include "slot_pool.h"

namespace fs {

namespace {

BackendProbe probe(const BackendSetup&) {
  BackendProbe p;
  p.available = true;
  p.detail = "SharedArrayBuffer slots written by GStreamer";
  return p;
}

GstBufferPool* newPool(const BackendSetup& setup) { return newSlotPool(setup.ring); }

}  // namespace

const Backend kCpuBackend = {"cpu", probe, "video/x-raw", newPool, nullptr};

}  // namespace fs
