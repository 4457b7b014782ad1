/* Imports one single-plane dma-buf (RGBA or BGRA, linear) with EGL_EXT_image_dma_buf_import, attaches
 * it to a GL texture bound to a framebuffer, and writes glReadPixels' RGBA bytes to stdout, row 0 first
 * (GL's row 0 is the image's first row: the dma-buf's first row is the texture's t = 0).
 * Part of `npm run test:gpu` (scripts/test-gpu.mjs compiles it with the system cc at run time).
 * libEGL.so.1 and libGLESv2.so.2 are loaded with dlopen: nothing is linked, and no EGL/GL headers are
 * needed (the few constants and prototypes are declared below, values from Khronos' registry headers).
 *
 * usage: egl-import WIDTH HEIGHT FOURCC OFFSET STRIDE   (the dma-buf is fd 3)
 * exit 0: pixels on stdout; 77: cannot be checked here (why on stderr, first line "SKIP: ..."); 1: failure. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef void *EGLDisplay, *EGLContext, *EGLConfig, *EGLImage, *EGLDeviceEXT, *EGLSurface, *EGLClientBuffer;
typedef int32_t EGLint;
typedef unsigned int EGLBoolean, EGLenum;
typedef intptr_t EGLAttrib;

#define EGL_SUCCESS 0x3000
#define EGL_NONE 0x3038
#define EGL_EXTENSIONS 0x3055
#define EGL_VENDOR 0x3053
#define EGL_VERSION 0x3054
#define EGL_WIDTH 0x3057
#define EGL_HEIGHT 0x3056
#define EGL_OPENGL_ES_API 0x30A0
#define EGL_CONTEXT_CLIENT_VERSION 0x3098
#define EGL_RENDERABLE_TYPE 0x3040
#define EGL_OPENGL_ES2_BIT 0x0004
#define EGL_SURFACE_TYPE 0x3033
#define EGL_PLATFORM_DEVICE_EXT 0x313F
#define EGL_PLATFORM_SURFACELESS_MESA 0x31DD
#define EGL_LINUX_DMA_BUF_EXT 0x3270
#define EGL_LINUX_DRM_FOURCC_EXT 0x3271
#define EGL_DMA_BUF_PLANE0_FD_EXT 0x3272
#define EGL_DMA_BUF_PLANE0_OFFSET_EXT 0x3273
#define EGL_DMA_BUF_PLANE0_PITCH_EXT 0x3274
#define EGL_DMA_BUF_PLANE0_MODIFIER_LO_EXT 0x3443
#define EGL_DMA_BUF_PLANE0_MODIFIER_HI_EXT 0x3444
#define EGL_DRM_DEVICE_FILE_EXT 0x3233
#define EGL_NO_CONTEXT ((EGLContext)0)
#define EGL_NO_SURFACE ((EGLSurface)0)
#define EGL_NO_DISPLAY ((EGLDisplay)0)
#define EGL_NO_IMAGE ((EGLImage)0)

typedef unsigned int GLenum, GLuint;
typedef int GLint, GLsizei;
typedef unsigned char GLubyte;
#define GL_TEXTURE_2D 0x0DE1
#define GL_FRAMEBUFFER 0x8D40
#define GL_COLOR_ATTACHMENT0 0x8CE0
#define GL_FRAMEBUFFER_COMPLETE 0x8CD5
#define GL_RGBA 0x1908
#define GL_UNSIGNED_BYTE 0x1401
#define GL_PACK_ALIGNMENT 0x0D05
#define GL_RENDERER 0x1F01
#define GL_TEXTURE_MIN_FILTER 0x2801
#define GL_NEAREST 0x2600

static struct {
  EGLint (*GetError)(void);
  void *(*GetProcAddress)(const char *);
  const char *(*QueryString)(EGLDisplay, EGLint);
  EGLBoolean (*Initialize)(EGLDisplay, EGLint *, EGLint *);
  EGLBoolean (*Terminate)(EGLDisplay);
  EGLBoolean (*BindAPI)(EGLenum);
  EGLBoolean (*ChooseConfig)(EGLDisplay, const EGLint *, EGLConfig *, EGLint, EGLint *);
  EGLContext (*CreateContext)(EGLDisplay, EGLConfig, EGLContext, const EGLint *);
  EGLBoolean (*MakeCurrent)(EGLDisplay, EGLSurface, EGLSurface, EGLContext);
  /* extensions, from eglGetProcAddress */
  EGLBoolean (*QueryDevicesEXT)(EGLint, EGLDeviceEXT *, EGLint *);
  const char *(*QueryDeviceStringEXT)(EGLDeviceEXT, EGLint);
  EGLDisplay (*GetPlatformDisplayEXT)(EGLenum, void *, const EGLint *);
  EGLImage (*CreateImageKHR)(EGLDisplay, EGLContext, EGLenum, EGLClientBuffer, const EGLint *);
} egl;

static struct {
  void (*GenTextures)(GLsizei, GLuint *);
  void (*BindTexture)(GLenum, GLuint);
  void (*TexParameteri)(GLenum, GLenum, GLint);
  void (*GenFramebuffers)(GLsizei, GLuint *);
  void (*BindFramebuffer)(GLenum, GLuint);
  void (*FramebufferTexture2D)(GLenum, GLenum, GLenum, GLuint, GLint);
  GLenum (*CheckFramebufferStatus)(GLenum);
  void (*PixelStorei)(GLenum, GLint);
  void (*ReadPixels)(GLint, GLint, GLsizei, GLsizei, GLenum, GLenum, void *);
  GLenum (*GetError)(void);
  const GLubyte *(*GetString)(GLenum);
  void (*EGLImageTargetTexture2DOES)(GLenum, void *);
} gl;

static int skip(const char *why) {
  fprintf(stderr, "SKIP: %s\n", why);
  return 77;
}

static int fail(const char *what) {
  fprintf(stderr, "FAIL: %s (EGL error 0x%x)\n", what, egl.GetError ? (unsigned)egl.GetError() : 0u);
  return 1;
}

static int hasExtension(const char *list, const char *name) {
  size_t n = strlen(name);
  for (const char *p = list; p && (p = strstr(p, name)); p += n) {
    if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) return 1;
  }
  return 0;
}

#define LOAD(lib, table, field, symbol)                                   \
  do {                                                                    \
    *(void **)&table.field = dlsym(lib, symbol);                          \
    if (!table.field) return skip("libEGL/libGLESv2 lack " symbol);       \
  } while (0)

/* Initialises a display that can import dma-bufs: an EGL device first (EGL_EXT_platform_device:
 * NVIDIA's and Mesa's drivers list their GPUs), then Mesa's surfaceless platform. */
static EGLDisplay openDisplay(char *why, size_t whyLen) {
  const char *clientExt = egl.QueryString(EGL_NO_DISPLAY, EGL_EXTENSIONS);
  fprintf(stderr, "egl-import: client extensions: %s\n", clientExt ? clientExt : "(none)");
  *(void **)&egl.GetPlatformDisplayEXT = egl.GetProcAddress("eglGetPlatformDisplayEXT");
  *(void **)&egl.QueryDevicesEXT = egl.GetProcAddress("eglQueryDevicesEXT");
  *(void **)&egl.QueryDeviceStringEXT = egl.GetProcAddress("eglQueryDeviceStringEXT");
  snprintf(why, whyLen, "no EGL display could be initialised");
  if (!egl.GetPlatformDisplayEXT) {
    snprintf(why, whyLen, "libEGL has no eglGetPlatformDisplayEXT (EGL_EXT_platform_base)");
    return EGL_NO_DISPLAY;
  }
  EGLDisplay fallback = EGL_NO_DISPLAY;
  if (hasExtension(clientExt, "EGL_EXT_platform_device") && egl.QueryDevicesEXT) {
    EGLDeviceEXT devices[16];
    EGLint n = 0;
    if (egl.QueryDevicesEXT(16, devices, &n)) {
      fprintf(stderr, "egl-import: %d EGL device(s)\n", n);
      for (EGLint i = 0; i < n; i++) {
        const char *file = egl.QueryDeviceStringEXT ? egl.QueryDeviceStringEXT(devices[i], EGL_DRM_DEVICE_FILE_EXT) : NULL;
        EGLDisplay d = egl.GetPlatformDisplayEXT(EGL_PLATFORM_DEVICE_EXT, devices[i], NULL);
        EGLint major = 0, minor = 0;
        if (d == EGL_NO_DISPLAY || !egl.Initialize(d, &major, &minor)) {
          fprintf(stderr, "egl-import: device %d (%s): eglInitialize failed (0x%x)\n", i, file ? file : "no DRM file", (unsigned)egl.GetError());
          continue;
        }
        const char *ext = egl.QueryString(d, EGL_EXTENSIONS);
        int importOk = hasExtension(ext, "EGL_EXT_image_dma_buf_import");
        fprintf(stderr, "egl-import: device %d (%s): EGL %d.%d, %s, %s EGL_EXT_image_dma_buf_import\n", i,
                file ? file : "no DRM file", major, minor, egl.QueryString(d, EGL_VENDOR), importOk ? "with" : "without");
        if (importOk) return d;
        if (fallback == EGL_NO_DISPLAY) fallback = d;
      }
    }
  }
  if (hasExtension(clientExt, "EGL_MESA_platform_surfaceless")) {
    EGLDisplay d = egl.GetPlatformDisplayEXT(EGL_PLATFORM_SURFACELESS_MESA, NULL, NULL);
    EGLint major = 0, minor = 0;
    if (d != EGL_NO_DISPLAY && egl.Initialize(d, &major, &minor)) {
      const char *ext = egl.QueryString(d, EGL_EXTENSIONS);
      int importOk = hasExtension(ext, "EGL_EXT_image_dma_buf_import");
      fprintf(stderr, "egl-import: surfaceless: EGL %d.%d, %s, %s EGL_EXT_image_dma_buf_import\n", major, minor,
              egl.QueryString(d, EGL_VENDOR), importOk ? "with" : "without");
      if (importOk) return d;
      if (fallback == EGL_NO_DISPLAY) fallback = d;
    } else {
      fprintf(stderr, "egl-import: surfaceless: eglInitialize failed (0x%x)\n", (unsigned)egl.GetError());
    }
  }
  if (fallback != EGL_NO_DISPLAY) {
    snprintf(why, whyLen, "no EGL display here has EGL_EXT_image_dma_buf_import (a software renderer such as Mesa's llvmpipe cannot import dma-bufs)");
  }
  return EGL_NO_DISPLAY;
}

/* Whether fd is a dma-buf: the kernel names its inode "dmabuf" ("anon_inode:dmabuf" on older kernels,
 * "/dmabuf:<name>" on newer ones); a memfd reads "/memfd:<name> (deleted)". */
static int isDmabuf(int fd, char *target, size_t len) {
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, target, len - 1);
  if (n < 0) return -1;
  target[n] = '\0';
  return strstr(target, "dmabuf") != NULL;
}

static uint32_t fourccOf(const char *s) {
  return (uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 | (uint32_t)s[3] << 24;
}

int main(int argc, char **argv) {
  if (argc != 6 || strlen(argv[3]) != 4) {
    fprintf(stderr, "usage: egl-import WIDTH HEIGHT FOURCC OFFSET STRIDE (the dma-buf is fd 3)\n");
    return 2;
  }
  int width = atoi(argv[1]), height = atoi(argv[2]);
  uint32_t fourcc = fourccOf(argv[3]);
  EGLint offset = atoi(argv[4]), stride = atoi(argv[5]);
  const int fd = 3;
  if (strcmp(argv[3], "AB24") != 0 && strcmp(argv[3], "AR24") != 0) return skip("only single-plane AB24 (RGBA) and AR24 (BGRA) are read back");

  void *libEGL = dlopen("libEGL.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!libEGL) return skip("libEGL.so.1 not found (install libegl1 and a GPU driver's EGL vendor library)");
  void *libGL = dlopen("libGLESv2.so.2", RTLD_NOW | RTLD_LOCAL);
  if (!libGL) return skip("libGLESv2.so.2 not found (install libgles2)");
  LOAD(libEGL, egl, GetError, "eglGetError");
  LOAD(libEGL, egl, GetProcAddress, "eglGetProcAddress");
  LOAD(libEGL, egl, QueryString, "eglQueryString");
  LOAD(libEGL, egl, Initialize, "eglInitialize");
  LOAD(libEGL, egl, Terminate, "eglTerminate");
  LOAD(libEGL, egl, BindAPI, "eglBindAPI");
  LOAD(libEGL, egl, ChooseConfig, "eglChooseConfig");
  LOAD(libEGL, egl, CreateContext, "eglCreateContext");
  LOAD(libEGL, egl, MakeCurrent, "eglMakeCurrent");
  LOAD(libGL, gl, GenTextures, "glGenTextures");
  LOAD(libGL, gl, BindTexture, "glBindTexture");
  LOAD(libGL, gl, TexParameteri, "glTexParameteri");
  LOAD(libGL, gl, GenFramebuffers, "glGenFramebuffers");
  LOAD(libGL, gl, BindFramebuffer, "glBindFramebuffer");
  LOAD(libGL, gl, FramebufferTexture2D, "glFramebufferTexture2D");
  LOAD(libGL, gl, CheckFramebufferStatus, "glCheckFramebufferStatus");
  LOAD(libGL, gl, PixelStorei, "glPixelStorei");
  LOAD(libGL, gl, ReadPixels, "glReadPixels");
  LOAD(libGL, gl, GetError, "glGetError");
  LOAD(libGL, gl, GetString, "glGetString");

  /* What the parent passed, before anything else, so that each run shows the fd arrived. */
  char target[256];
  int dmabuf = isDmabuf(fd, target, sizeof target);
  if (dmabuf < 0) return fail("fd 3 is not open (the parent must pass the dma-buf as fd 3)");
  fprintf(stderr, "egl-import: fd 3 is %s (%s)\n", target, dmabuf ? "a dma-buf" : "not a dma-buf");

  char why[256];
  EGLDisplay dpy = openDisplay(why, sizeof why);
  if (dpy == EGL_NO_DISPLAY) return skip(why);
  if (!dmabuf) return skip("fd 3 is not a dma-buf (a memfd cannot be imported by EGL)");

  const char *ext = egl.QueryString(dpy, EGL_EXTENSIONS);
  if (!hasExtension(ext, "EGL_KHR_surfaceless_context")) return skip("the EGL display lacks EGL_KHR_surfaceless_context");
  if (!egl.BindAPI(EGL_OPENGL_ES_API)) return fail("eglBindAPI(EGL_OPENGL_ES_API)");
  const EGLint configAttribs[] = {EGL_RENDERABLE_TYPE, EGL_OPENGL_ES2_BIT, EGL_SURFACE_TYPE, 0, EGL_NONE};
  EGLConfig config = NULL;
  EGLint nConfigs = 0;
  if (!egl.ChooseConfig(dpy, configAttribs, &config, 1, &nConfigs) || nConfigs < 1) return fail("eglChooseConfig (GLES 2, no surface)");
  const EGLint contextAttribs[] = {EGL_CONTEXT_CLIENT_VERSION, 2, EGL_NONE};
  EGLContext ctx = egl.CreateContext(dpy, config, EGL_NO_CONTEXT, contextAttribs);
  if (ctx == EGL_NO_CONTEXT) return fail("eglCreateContext (GLES 2)");
  if (!egl.MakeCurrent(dpy, EGL_NO_SURFACE, EGL_NO_SURFACE, ctx)) return fail("eglMakeCurrent (surfaceless)");
  fprintf(stderr, "egl-import: GL renderer %s\n", (const char *)gl.GetString(GL_RENDERER));

  *(void **)&egl.CreateImageKHR = egl.GetProcAddress("eglCreateImageKHR");
  *(void **)&gl.EGLImageTargetTexture2DOES = egl.GetProcAddress("glEGLImageTargetTexture2DOES");
  if (!egl.CreateImageKHR) return skip("no eglCreateImageKHR (EGL_KHR_image_base)");
  if (!gl.EGLImageTargetTexture2DOES) return skip("no glEGLImageTargetTexture2DOES (GL_OES_EGL_image)");

  /* Linear layout: GStreamer 1.22 describes no other (the frame's modifier is '0'). */
  const EGLint imageAttribs[] = {EGL_WIDTH, width, EGL_HEIGHT, height, EGL_LINUX_DRM_FOURCC_EXT, (EGLint)fourcc,
                                 EGL_DMA_BUF_PLANE0_FD_EXT, fd, EGL_DMA_BUF_PLANE0_OFFSET_EXT, offset,
                                 EGL_DMA_BUF_PLANE0_PITCH_EXT, stride, EGL_NONE};
  EGLImage image = egl.CreateImageKHR(dpy, EGL_NO_CONTEXT, EGL_LINUX_DMA_BUF_EXT, NULL, imageAttribs);
  if (image == EGL_NO_IMAGE) return fail("eglCreateImageKHR(EGL_LINUX_DMA_BUF_EXT) refused the dma-buf");

  GLuint tex = 0, fbo = 0;
  gl.GenTextures(1, &tex);
  gl.BindTexture(GL_TEXTURE_2D, tex);
  gl.TexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
  gl.EGLImageTargetTexture2DOES(GL_TEXTURE_2D, image);
  if (gl.GetError() != 0) return fail("glEGLImageTargetTexture2DOES");
  gl.GenFramebuffers(1, &fbo);
  gl.BindFramebuffer(GL_FRAMEBUFFER, fbo);
  gl.FramebufferTexture2D(GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_TEXTURE_2D, tex, 0);
  if (gl.CheckFramebufferStatus(GL_FRAMEBUFFER) != GL_FRAMEBUFFER_COMPLETE) return fail("the imported texture is not a complete framebuffer");

  size_t bytes = (size_t)width * (size_t)height * 4;
  unsigned char *pixels = malloc(bytes);
  if (!pixels) return fail("out of memory");
  gl.PixelStorei(GL_PACK_ALIGNMENT, 1);
  gl.ReadPixels(0, 0, width, height, GL_RGBA, GL_UNSIGNED_BYTE, pixels);
  if (gl.GetError() != 0) return fail("glReadPixels");
  for (size_t done = 0; done < bytes;) {
    ssize_t w = write(1, pixels + done, bytes - done);
    if (w <= 0) return fail("writing the pixels to stdout");
    done += (size_t)w;
  }
  free(pixels);
  egl.Terminate(dpy);
  return 0;
}
