//! A moving average over a price series, on the GPU with a CUDA kernel that
//! NVRTC compiles at run time, and on the CPU as the reference.
//!
//! The CUDA libraries are loaded at run time (cudarc's `dynamic-loading`), so
//! this crate builds without CUDA; [`gpu_context`] tells you why there is no
//! GPU instead of panicking.

use std::fmt;
use std::sync::Arc;

use cudarc::driver::{CudaContext, LaunchConfig, PushKernelArg};
use cudarc::nvrtc::compile_ptx;

/// The CUDA C source of the kernel. One thread computes one output value:
/// the mean of `window` consecutive prices ending at its position.
pub const MOVING_AVERAGE_KERNEL: &str = r#"
extern "C" __global__ void moving_average(
    const float* prices, float* out, unsigned int n_out, unsigned int window)
{
    unsigned int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n_out) return;
    // Same summation order as the CPU version, so both give the same result.
    float sum = 0.0f;
    for (unsigned int k = 0; k < window; ++k) {
        sum += prices[i + k];
    }
    out[i] = sum / (float)window;
}
"#;

/// Errors of the moving average.
#[derive(Debug)]
pub enum Error {
    /// `window` is 0 or longer than the series.
    BadWindow { window: usize, len: usize },
    /// No usable GPU: the reason, in words.
    NoGpu(String),
    /// NVRTC could not compile the kernel.
    Compile(String),
    /// A CUDA driver call failed.
    Driver(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BadWindow { window, len } => write!(
                f,
                "window must be between 1 and the series length ({len}), got {window}"
            ),
            Error::NoGpu(why) => write!(f, "no usable GPU: {why}"),
            Error::Compile(e) => write!(f, "NVRTC could not compile the kernel: {e}"),
            Error::Driver(e) => write!(f, "CUDA driver error: {e}"),
        }
    }
}

impl std::error::Error for Error {}

fn check_window(len: usize, window: usize) -> Result<usize, Error> {
    if window == 0 || window > len {
        return Err(Error::BadWindow { window, len });
    }
    Ok(len - window + 1)
}

/// Trailing moving average: `out[i]` is the mean of `prices[i..i + window]`.
/// The result has `prices.len() - window + 1` values, like pandas'
/// `Series.rolling(window).mean().dropna()`.
pub fn moving_average_cpu(prices: &[f32], window: usize) -> Result<Vec<f32>, Error> {
    let n_out = check_window(prices.len(), window)?;
    Ok((0..n_out)
        .map(|i| prices[i..i + window].iter().sum::<f32>() / window as f32)
        .collect())
}

/// Opens GPU 0, or says why it cannot.
///
/// cudarc panics when it cannot load a CUDA library, so both are probed
/// first. On NixOS the driver's `libcuda.so.1` is in `/run/opengl-driver/lib`;
/// in the project's CUDA shell cargo links the binaries and tests with that
/// directory and NVRTC's on their RUNPATH, where dlopen finds them.
pub fn gpu_context() -> Result<Arc<CudaContext>, Error> {
    // SAFETY: these only try to dlopen the libraries by name.
    if !unsafe { cudarc::driver::sys::is_culib_present() } {
        return Err(Error::NoGpu(
            "libcuda.so (the NVIDIA driver library) cannot be loaded: is the NVIDIA driver \
             installed (/run/opengl-driver/lib/libcuda.so.1), and was this binary built in the \
             project's CUDA shell, which puts that directory on its RUNPATH?"
                .into(),
        ));
    }
    if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
        return Err(Error::NoGpu(
            "libnvrtc.so (CUDA's run-time compiler) cannot be loaded: build and run the \
             crate in the project's CUDA shell (`nix develop`), whose cargo puts cuda_nvrtc \
             on the binaries' RUNPATH"
                .into(),
        ));
    }
    match CudaContext::device_count() {
        Ok(0) => return Err(Error::NoGpu("the driver reports no CUDA device".into())),
        Ok(_) => {}
        Err(e) => {
            return Err(Error::NoGpu(format!(
                "the driver does not initialise ({e}); check `nvidia-smi`"
            )))
        }
    }
    CudaContext::new(0).map_err(|e| Error::NoGpu(format!("cannot open GPU 0: {e}")))
}

/// The same moving average, computed on the GPU of `ctx`.
pub fn moving_average_gpu(
    ctx: &Arc<CudaContext>,
    prices: &[f32],
    window: usize,
) -> Result<Vec<f32>, Error> {
    let n_out = check_window(prices.len(), window)?;
    let too_long = |_| Error::BadWindow {
        window,
        len: prices.len(),
    };
    let n_out_u32 = u32::try_from(n_out).map_err(too_long)?;
    let window_u32 = u32::try_from(window).map_err(too_long)?;

    // NVRTC compiles the CUDA C source to PTX; the driver JIT-compiles the
    // PTX for whatever GPU is present. (Compile once and keep the function
    // if you call this in a loop.)
    let ptx = compile_ptx(MOVING_AVERAGE_KERNEL).map_err(|e| Error::Compile(e.to_string()))?;
    let driver = |e: cudarc::driver::DriverError| Error::Driver(e.to_string());
    let module = ctx.load_module(ptx).map_err(driver)?;
    let kernel = module.load_function("moving_average").map_err(driver)?;

    let stream = ctx.default_stream();
    let prices_dev = stream.clone_htod(prices).map_err(driver)?;
    let mut out_dev = stream.alloc_zeros::<f32>(n_out).map_err(driver)?;
    let mut launch = stream.launch_builder(&kernel);
    launch
        .arg(&prices_dev)
        .arg(&mut out_dev)
        .arg(&n_out_u32)
        .arg(&window_u32);
    // SAFETY: the argument types and order match the kernel's signature, and
    // the kernel reads only prices[0..n_out + window - 1] = the whole input.
    unsafe { launch.launch(LaunchConfig::for_num_elems(n_out_u32)) }.map_err(driver)?;
    stream.clone_dtoh(&out_dev).map_err(driver)
}

/// A deterministic synthetic price series (a random walk), for tests and
/// examples that must not need the network.
pub fn synthetic_prices(n: usize, seed: u64) -> Vec<f32> {
    // A small xorshift generator: no `rand` dependency for a test series.
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut price = 5_000.0_f32;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let uniform = (state >> 11) as f32 / (1u64 << 53) as f32; // in [0, 1)
                                                                      // Up or down by at most 1%, symmetric in log space (no drift).
            price *= (0.02 * (uniform - 0.5)).exp();
            price
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_moving_average_of_a_small_series() {
        let out = moving_average_cpu(&[1.0, 2.0, 3.0, 4.0, 5.0], 2).unwrap();
        assert_eq!(out, vec![1.5, 2.5, 3.5, 4.5]);
        assert_eq!(moving_average_cpu(&[2.0, 4.0], 2).unwrap(), vec![3.0]);
        assert_eq!(moving_average_cpu(&[7.0], 1).unwrap(), vec![7.0]);
    }

    #[test]
    fn bad_windows_are_errors() {
        assert!(matches!(
            moving_average_cpu(&[1.0, 2.0], 0),
            Err(Error::BadWindow { .. })
        ));
        assert!(matches!(
            moving_average_cpu(&[1.0, 2.0], 3),
            Err(Error::BadWindow { .. })
        ));
    }

    #[test]
    fn synthetic_prices_are_deterministic_and_positive() {
        let a = synthetic_prices(500, 7);
        assert_eq!(a, synthetic_prices(500, 7));
        assert_ne!(a, synthetic_prices(500, 8));
        assert!(a.iter().all(|p| p.is_finite() && *p > 0.0));
    }
}
