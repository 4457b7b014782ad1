# Prints one CUDA device's free and total memory (cuMemGetInfo) as JSON, for test/gpu/cuda.test.ts:
# a separate process, so that measuring adds nothing to the process under test.
# usage: python3 cuda_meminfo.py [DEVICE]
import ctypes
import json
import sys

cuda = ctypes.CDLL("libcuda.so.1")


def check(result, what):
    if result != 0:
        raise SystemExit(f"{what} failed: CUresult {result}")


check(cuda.cuInit(0), "cuInit")
device = ctypes.c_int()
check(cuda.cuDeviceGet(ctypes.byref(device), int(sys.argv[1]) if len(sys.argv) > 1 else 0), "cuDeviceGet")
context = ctypes.c_void_p()
check(cuda.cuDevicePrimaryCtxRetain(ctypes.byref(context), device), "cuDevicePrimaryCtxRetain")
check(cuda.cuCtxSetCurrent(context), "cuCtxSetCurrent")
free, total = ctypes.c_size_t(), ctypes.c_size_t()
check(cuda.cuMemGetInfo_v2(ctypes.byref(free), ctypes.byref(total)), "cuMemGetInfo")
print(json.dumps({"free": free.value, "total": total.value}))
cuda.cuDevicePrimaryCtxRelease(device)
