#pragma once
#include "rms_norm_fp8.cuh"
#include "silu_mul_fp8.cuh"
struct Cand { const char* kernel; int hidden; const char* schedule; kiln::detail::Launcher launch; };
