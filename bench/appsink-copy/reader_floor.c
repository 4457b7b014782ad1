/* Benchmark-only program (not shipped): the reader floor. GStreamer alone, as the queue floor
 * (`DESCRIPTION ! queue ! fakesink`), but the second thread reads each frame as every variant
 * that reaches JS does: one byte of every 4 KiB page, in a buffer probe on fakesink's sink pad
 * (the queue's thread). No Node, no JS, no wake of an event loop: what handing each frame to a
 * thread that reads it costs GStreamer and the machine (the cache lines that thread reads must
 * move back to the source's core before it writes them again), to set frame-source against.
 *
 *   reader_floor 'videotestsrc num-buffers=500 ! video/x-raw,...'
 *
 * Prints nothing; exits 0 at end of stream after reading at least one frame, 1 on an error (said
 * on stderr), 2 on bad usage. Measured from outside (wait4), as bench/run.mjs measures gst-launch.
 */
#include <gst/gst.h>
#include <stdio.h>

static volatile guint checksum;
static guint64 framesRead;

static GstPadProbeReturn readFrame(GstPad* pad, GstPadProbeInfo* info, gpointer data) {
  GstBuffer* buf = GST_PAD_PROBE_INFO_BUFFER(info);
  guint n = gst_buffer_n_memory(buf);
  guint sum = 0;
  (void)pad;
  (void)data;
  /* Memory by memory: gst_buffer_map would merge (copy) a buffer of several memories. */
  for (guint i = 0; i < n; i++) {
    GstMemory* mem = gst_buffer_peek_memory(buf, i);
    GstMapInfo map;
    if (!gst_memory_map(mem, &map, GST_MAP_READ)) continue;
    for (gsize off = 0; off < map.size; off += 4096) sum += map.data[off];
    gst_memory_unmap(mem, &map);
  }
  checksum += sum;
  framesRead++;
  return GST_PAD_PROBE_OK;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: reader_floor 'GST-LAUNCH DESCRIPTION (without a sink)'\n");
    return 2;
  }
  gst_init(NULL, NULL);
  gchar* description = g_strdup_printf("%s ! queue ! fakesink name=reader", argv[1]);
  GError* error = NULL;
  GstElement* pipeline = gst_parse_launch(description, &error);
  g_free(description);
  if (!pipeline || error) {
    fprintf(stderr, "reader_floor: %s\n", error ? error->message : "could not build the pipeline");
    if (error) g_error_free(error);
    if (pipeline) gst_object_unref(pipeline); /* a recoverable error still returns one */
    return 1;
  }
  GstElement* sink = gst_bin_get_by_name(GST_BIN(pipeline), "reader");
  GstPad* pad = gst_element_get_static_pad(sink, "sink");
  gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, readFrame, NULL, NULL);
  gst_object_unref(pad);
  gst_object_unref(sink);

  int status = 0;
  if (gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    fprintf(stderr, "reader_floor: the pipeline would not start\n");
    status = 1;
  } else {
    GstBus* bus = gst_element_get_bus(pipeline);
    GstMessage* msg =
        gst_bus_timed_pop_filtered(bus, GST_CLOCK_TIME_NONE, (GstMessageType)(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
    if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
      GError* err = NULL;
      gst_message_parse_error(msg, &err, NULL);
      fprintf(stderr, "reader_floor: %s\n", err->message);
      g_error_free(err);
      status = 1;
    } else if (framesRead == 0) {
      fprintf(stderr, "reader_floor: end of stream before any frame\n");
      status = 1;
    }
    gst_message_unref(msg);
    gst_object_unref(bus);
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
  return status;
}
