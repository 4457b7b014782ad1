{
  "targets": [
    {
      "target_name": "frame_source",
      "sources": [
        "csrc/addon.cc",
        "csrc/frame_source.cc",
        "csrc/pipeline.cc",
        "csrc/slot_pool.cc",
        "csrc/slot_ring.cc",
        "csrc/util/leaks.cc",
        "csrc/backends/backends.cc",
        "csrc/backends/cpu.cc",
        "csrc/backends/cuda.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "csrc"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS",
        "NODE_API_NO_EXTERNAL_BUFFERS_ALLOWED"
      ],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": [
        "-std=c++17",
        "-fexceptions",
        "-Wall",
        "-Wno-missing-field-initializers",
        "<!@(pkg-config --cflags gstreamer-1.0 gstreamer-base-1.0 gstreamer-video-1.0 gstreamer-app-1.0 gstreamer-pbutils-1.0 gstreamer-allocators-1.0)"
      ],
      "libraries": [
        "<!@(pkg-config --libs gstreamer-1.0 gstreamer-base-1.0 gstreamer-video-1.0 gstreamer-app-1.0 gstreamer-pbutils-1.0 gstreamer-allocators-1.0)"
      ],
      "conditions": [
        ["OS=='linux'", {
          "sources": ["csrc/backends/dmabuf.cc", "csrc/backends/dmabuf_test_element.cc"],
          "libraries": ["-ldl"],
          # Stay loaded once loaded: a worker that loaded the addon may exit while threads it started
          # (teardown, a stuck element) still run its code, and GLib keeps the GType it registered.
          "ldflags": ["-Wl,-z,nodelete"]
        }],
        ["OS=='mac'", {
          "xcode_settings": {
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "MACOSX_DEPLOYMENT_TARGET": "11.0",
            "OTHER_CPLUSPLUSFLAGS": [
              "<!@(pkg-config --cflags gstreamer-1.0 gstreamer-base-1.0 gstreamer-video-1.0 gstreamer-app-1.0 gstreamer-pbutils-1.0 gstreamer-allocators-1.0)"
            ]
          }
        }]
      ]
    }
  ]
}
