//! The GPU test. Without a GPU it prints why and passes (run `cargo test --
//! --nocapture` to see the message); with `NIXCUDA_REQUIRE_GPU=1` it fails
//! instead, so a broken driver setup on a GPU machine cannot hide.

use ipsa_prediction::gpu_context;
use ipsa_prediction::moving_average_cpu;
use ipsa_prediction::moving_average_gpu;
use ipsa_prediction::synthetic_prices;

fn gpu_required() -> bool {
    std::env::var("NIXCUDA_REQUIRE_GPU").is_ok_and(|v| v == "1")
}

#[test]
fn gpu_moving_average_matches_cpu() {
    let ctx = match gpu_context() {
        Ok(ctx) => ctx,
        Err(why) if gpu_required() => panic!("NIXCUDA_REQUIRE_GPU=1, but {why}"),
        Err(why) => {
            eprintln!("SKIPPED gpu_moving_average_matches_cpu: {why}");
            return;
        }
    };
    let prices = synthetic_prices(100_003, 1); // not a multiple of the block size
    for window in [1, 5, 20, 250] {
        let cpu = moving_average_cpu(&prices, window).unwrap();
        let gpu = moving_average_gpu(&ctx, &prices, window).unwrap();
        assert_eq!(cpu.len(), gpu.len());
        for (i, (c, g)) in cpu.iter().zip(&gpu).enumerate() {
            // Same summation order on both sides; allow for the GPU's rounding.
            assert!(
                (c - g).abs() <= 1e-5 * c.abs(),
                "window {window}, index {i}: CPU {c} vs GPU {g}"
            );
        }
    }
}
