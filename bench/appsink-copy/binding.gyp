{
  "targets": [
    {
      "target_name": "appsink_copy",
      "sources": ["appsink_copy.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": [
        "-std=c++17",
        "-fexceptions",
        "-Wall",
        "<!@(pkg-config --cflags gstreamer-1.0 gstreamer-app-1.0)"
      ],
      "libraries": ["<!@(pkg-config --libs gstreamer-1.0 gstreamer-app-1.0)"]
    },
    {
      "target_name": "reader_floor",
      "type": "executable",
      "sources": ["reader_floor.c"],
      "cflags": ["-O2", "-Wall", "<!@(pkg-config --cflags gstreamer-1.0)"],
      "libraries": ["<!@(pkg-config --libs gstreamer-1.0)"]
    }
  ]
}
