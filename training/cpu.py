"""What the CPU offers for training: model name, cores, and the SIMD flags that decide whether bf16 is native
(AVX-512 BF16 / AMX) or emulated (AVX2-only machines such as some AMD EPYC), as read from /proc/cpuinfo."""
import os

FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile")


def cpu_info():
    model, flags = "unknown", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model == "unknown":
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return {"model": model, "cores": os.cpu_count(), "flags": [f for f in FLAGS if f in flags],
            "native_bf16": "avx512_bf16" in flags or "amx_bf16" in flags}
