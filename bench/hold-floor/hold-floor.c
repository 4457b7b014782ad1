// The fakesink floor with K frames kept: videotestsrc ! fakesink, and a pad probe on fakesink
// that keeps the last K buffers referenced, so that videotestsrc's pool writes K + 1 buffers in
// turn, on one thread, with no hand-off. It shows what writing frames into more buffers in turn
// costs by itself (README, Performance: "How many slots are written in turn"). Not part of
// npm run bench; run.sh prints CPU ms a frame for K = 0, 1, 2, 4, 8 in interleaved rounds.
//   cc -O2 hold-floor.c -o hold-floor $(pkg-config --cflags --libs gstreamer-1.0)
//   ./hold-floor K FRAMES FORMAT WIDTH HEIGHT   (prints the process's CPU ms)
#include <gst/gst.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#define MAX_KEPT 64

static GstBuffer* kept[MAX_KEPT];
static int keep;
static int next;

static GstPadProbeReturn onBuffer(GstPad* pad, GstPadProbeInfo* info, gpointer data) {
  (void)pad;
  (void)data;
  if (keep == 0) return GST_PAD_PROBE_OK;
  if (kept[next]) gst_buffer_unref(kept[next]);
  kept[next] = gst_buffer_ref(GST_PAD_PROBE_INFO_BUFFER(info));
  next = (next + 1) % keep;
  return GST_PAD_PROBE_OK;
}

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  if (argc != 6) {
    fprintf(stderr, "usage: %s K FRAMES FORMAT WIDTH HEIGHT\n", argv[0]);
    return 2;
  }
  keep = atoi(argv[1]);
  if (keep < 0 || keep > MAX_KEPT) return 2;
  char desc[512];
  snprintf(desc, sizeof desc,
           "videotestsrc pattern=smpte num-buffers=%d ! video/x-raw,format=%s,width=%s,height=%s ! fakesink name=sink",
           atoi(argv[2]), argv[3], argv[4], argv[5]);
  GError* error = NULL;
  GstElement* pipeline = gst_parse_launch(desc, &error);
  if (!pipeline) {
    fprintf(stderr, "%s\n", error->message);
    return 1;
  }
  GstElement* sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
  GstPad* pad = gst_element_get_static_pad(sink, "sink");
  gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, onBuffer, NULL, NULL);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstBus* bus = gst_element_get_bus(pipeline);
  GstMessage* msg = gst_bus_timed_pop_filtered(bus, GST_CLOCK_TIME_NONE, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  int failed = GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR;
  gst_message_unref(msg);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("%.3f\n", (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3);
  for (int i = 0; i < MAX_KEPT; i++)
    if (kept[i]) gst_buffer_unref(kept[i]);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(bus);
  gst_object_unref(pad);
  gst_object_unref(sink);
  gst_object_unref(pipeline);
  return failed;
}
