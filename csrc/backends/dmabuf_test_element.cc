// fsdmabufwrap: see dmabuf_test_element.h. Its vfuncs run on the streaming thread that pushes
// through it; registration on the JS thread that loads the addon.
#include "backends/dmabuf_test_element.h"

#include <fcntl.h>
#include <gst/allocators/gstdmabuf.h>
#include <gst/base/gstbasetransform.h>
#include <gst/video/video.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "util/old_glibc.h"

struct GstFsDmabufWrap {
  GstBaseTransform parent;
  GstVideoInfo info;
  GstAllocator* allocator;
  gboolean mappable;    // false: each buffer's fd is /dev/null's, which the CPU cannot map
  gboolean dmabufCaps;  // false: the dma-bufs go out under system-memory caps (as v4l2src io-mode=dmabuf)
};
struct GstFsDmabufWrapClass {
  GstBaseTransformClass parent_class;
};

G_DEFINE_TYPE(GstFsDmabufWrap, gst_fs_dmabuf_wrap, GST_TYPE_BASE_TRANSFORM)

namespace {

#define WRAP_FORMATS "{ NV12, RGBA, BGRA }"

GstStaticPadTemplate sinkTemplate =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(WRAP_FORMATS)));
GstStaticPadTemplate srcTemplate =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS,
                            GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE_WITH_FEATURES(
                                GST_CAPS_FEATURE_MEMORY_DMABUF, WRAP_FORMATS) ";" GST_VIDEO_CAPS_MAKE(WRAP_FORMATS)));

GstFsDmabufWrap* self(GstBaseTransform* t) { return reinterpret_cast<GstFsDmabufWrap*>(t); }

// The same caps on both sides, in system memory upstream and memory:DMABuf downstream (or
// system memory too, with dmabuf-caps=false).
GstCaps* transformCaps(GstBaseTransform* t, GstPadDirection direction, GstCaps* caps, GstCaps* filter) {
  GstCaps* out = gst_caps_copy(caps);
  for (guint i = 0; self(t)->dmabufCaps && i < gst_caps_get_size(out); i++) {
    GstCapsFeatures* f = direction == GST_PAD_SINK ? gst_caps_features_new(GST_CAPS_FEATURE_MEMORY_DMABUF, nullptr)
                                                   : gst_caps_features_new_empty();
    gst_caps_set_features(out, i, f);
  }
  if (filter) {
    GstCaps* both = gst_caps_intersect_full(filter, out, GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref(out);
    out = both;
  }
  return out;
}

gboolean setCaps(GstBaseTransform* t, GstCaps* in, GstCaps*) { return gst_video_info_from_caps(&self(t)->info, in); }

// A new memfd-backed dma-buf buffer for each frame, with the input's timestamps.
GstFlowReturn prepareOutput(GstBaseTransform* t, GstBuffer* in, GstBuffer** out) {
  GstFsDmabufWrap* w = self(t);
  gsize size = GST_VIDEO_INFO_SIZE(&w->info);
  // Unmappable: the fd of a device without mmap, as a hardware dma-buf that the CPU cannot map
  // (tiled, compressed or protected) stands to a reader of its bytes.
  int fd = w->mappable ? fs::memfdCreate("fsdmabufwrap", MFD_CLOEXEC) : open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (fd < 0 || (w->mappable && ftruncate(fd, static_cast<off_t>(size)) != 0)) {
    if (fd >= 0) close(fd);
    return GST_FLOW_ERROR;
  }
  GstBuffer* buf = gst_buffer_new();
  gst_buffer_append_memory(buf, gst_dmabuf_allocator_alloc(w->allocator, fd, size));
  gst_buffer_add_video_meta_full(buf, GST_VIDEO_FRAME_FLAG_NONE, GST_VIDEO_INFO_FORMAT(&w->info),
                                 GST_VIDEO_INFO_WIDTH(&w->info), GST_VIDEO_INFO_HEIGHT(&w->info),
                                 GST_VIDEO_INFO_N_PLANES(&w->info), w->info.offset, w->info.stride);
  gst_buffer_copy_into(buf, in, GST_BUFFER_COPY_METADATA, 0, -1);
  *out = buf;
  return GST_FLOW_OK;
}

GstFlowReturn transform(GstBaseTransform* t, GstBuffer* in, GstBuffer* out) {
  GstFsDmabufWrap* w = self(t);
  if (!w->mappable) return GST_FLOW_OK;  // nothing can write it either
  GstVideoFrame from, to;
  if (!gst_video_frame_map(&from, &w->info, in, GST_MAP_READ)) return GST_FLOW_ERROR;
  if (!gst_video_frame_map(&to, &w->info, out, GST_MAP_WRITE)) {
    gst_video_frame_unmap(&from);
    return GST_FLOW_ERROR;
  }
  gboolean ok = gst_video_frame_copy(&to, &from);
  gst_video_frame_unmap(&to);
  gst_video_frame_unmap(&from);
  return ok ? GST_FLOW_OK : GST_FLOW_ERROR;
}

enum { PROP_0, PROP_MAPPABLE, PROP_DMABUF_CAPS };

void setProperty(GObject* obj, guint id, const GValue* value, GParamSpec* spec) {
  if (id == PROP_MAPPABLE)
    reinterpret_cast<GstFsDmabufWrap*>(obj)->mappable = g_value_get_boolean(value);
  else if (id == PROP_DMABUF_CAPS)
    reinterpret_cast<GstFsDmabufWrap*>(obj)->dmabufCaps = g_value_get_boolean(value);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, spec);
}

void getProperty(GObject* obj, guint id, GValue* value, GParamSpec* spec) {
  if (id == PROP_MAPPABLE)
    g_value_set_boolean(value, reinterpret_cast<GstFsDmabufWrap*>(obj)->mappable);
  else if (id == PROP_DMABUF_CAPS)
    g_value_set_boolean(value, reinterpret_cast<GstFsDmabufWrap*>(obj)->dmabufCaps);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, spec);
}

void finalize(GObject* obj) {
  gst_object_unref(reinterpret_cast<GstFsDmabufWrap*>(obj)->allocator);
  G_OBJECT_CLASS(gst_fs_dmabuf_wrap_parent_class)->finalize(obj);
}

}  // namespace

static void gst_fs_dmabuf_wrap_class_init(GstFsDmabufWrapClass* klass) {
  GObjectClass* oc = G_OBJECT_CLASS(klass);
  oc->finalize = finalize;
  oc->set_property = setProperty;
  oc->get_property = getProperty;
  g_object_class_install_property(
      oc, PROP_MAPPABLE,
      g_param_spec_boolean("mappable", "Mappable", "Whether the CPU can map the dma-bufs (false: /dev/null's fd)", TRUE,
                           static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)));
  g_object_class_install_property(
      oc, PROP_DMABUF_CAPS,
      g_param_spec_boolean("dmabuf-caps", "DMA-BUF caps",
                           "Whether the output caps say memory:DMABuf (false: system memory caps, dma-buf memory)",
                           TRUE, static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)));
  GstElementClass* ec = GST_ELEMENT_CLASS(klass);
  gst_element_class_add_static_pad_template(ec, &sinkTemplate);
  gst_element_class_add_static_pad_template(ec, &srcTemplate);
  gst_element_class_set_static_metadata(ec, "frame-source DMA-BUF test wrapper", "Filter/Converter/Video",
                                        "Test-only: copies raw video into memfd-backed DMA-BUF memory", "frame-source");
  GstBaseTransformClass* bt = GST_BASE_TRANSFORM_CLASS(klass);
  bt->transform_caps = transformCaps;
  bt->set_caps = setCaps;
  bt->prepare_output_buffer = prepareOutput;
  bt->transform = transform;
}

static void gst_fs_dmabuf_wrap_init(GstFsDmabufWrap* self) {
  gst_video_info_init(&self->info);
  self->mappable = TRUE;
  self->dmabufCaps = TRUE;
  self->allocator = gst_dmabuf_allocator_new();
}

namespace fs {

void registerTestElements() {
  const char* on = g_getenv("FRAME_SOURCE_TEST_ELEMENTS");
  if (!on || std::strcmp(on, "1") != 0) return;
  gst_element_register(nullptr, "fsdmabufwrap", GST_RANK_NONE, gst_fs_dmabuf_wrap_get_type());
}

}  // namespace fs
