# The other process of examples/cuda-ipc/main.mjs: opens each frame's CUDA memory from its IPC handle
# (cuIpcOpenMemHandle), copies the visible rows of each plane to the host, closes the handle, and
# answers with their SHA-256. One JSON request per stdin line, one JSON answer per stdout line.
# Needs only python3 and NVIDIA's libcuda.so.1.
import ctypes
import hashlib
import json
import sys

cuda = ctypes.CDLL("libcuda.so.1")


class IpcMemHandle(ctypes.Structure):
    _fields_ = [("reserved", ctypes.c_char * 64)]


def check(result, what):
    if result != 0:
        name = ctypes.c_char_p()
        cuda.cuGetErrorName(result, ctypes.byref(name))
        raise RuntimeError(f"{what}: {name.value.decode() if name.value else result}")


open_handle = getattr(cuda, "cuIpcOpenMemHandle_v2", None) or cuda.cuIpcOpenMemHandle
open_handle.argtypes = [ctypes.POINTER(ctypes.c_uint64), IpcMemHandle, ctypes.c_uint]
cuda.cuIpcCloseMemHandle.argtypes = [ctypes.c_uint64]
cuda.cuMemcpyDtoH_v2.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_size_t]

check(cuda.cuInit(0), "cuInit")
device = ctypes.c_int()
check(cuda.cuDeviceGet(ctypes.byref(device), int(sys.argv[1]) if len(sys.argv) > 1 else 0), "cuDeviceGet")
context = ctypes.c_void_p()
check(cuda.cuDevicePrimaryCtxRetain(ctypes.byref(context), device), "cuDevicePrimaryCtxRetain")
check(cuda.cuCtxSetCurrent(context), "cuCtxSetCurrent")

CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS = 1
for line in sys.stdin:
    request = json.loads(line)
    try:
        raw = bytes.fromhex(request["handle"])
        if len(raw) != ctypes.sizeof(IpcMemHandle):
            raise ValueError(f"an IPC handle has 64 bytes, not {len(raw)}")
        # memmove, not `handle.reserved = raw`: assigning bytes to a c_char array stops at the
        # first zero byte, and handles have many.
        handle = IpcMemHandle()
        ctypes.memmove(ctypes.addressof(handle), raw, len(raw))
        pointer = ctypes.c_uint64()
        check(open_handle(ctypes.byref(pointer), handle, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS), "cuIpcOpenMemHandle")
        try:
            digest = hashlib.sha256()
            for plane in request["planes"]:
                size = plane["offset"] + plane["stride"] * (plane["rows"] - 1) + plane["rowBytes"]
                host = ctypes.create_string_buffer(size - plane["offset"])
                check(cuda.cuMemcpyDtoH_v2(host, pointer.value + plane["offset"], len(host)), "cuMemcpyDtoH")
                raw = host.raw
                for r in range(plane["rows"]):
                    digest.update(raw[r * plane["stride"] : r * plane["stride"] + plane["rowBytes"]])
        finally:
            check(cuda.cuIpcCloseMemHandle(pointer.value), "cuIpcCloseMemHandle")
        answer = {"sha256": digest.hexdigest()}
    except Exception as error:  # reported to the parent, which counts the frame as not matched
        answer = {"sha256": "", "error": str(error)}
    print(json.dumps(answer), flush=True)
