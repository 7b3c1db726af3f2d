//! `cargo run --release`: the moving average of a synthetic price series on
//! the GPU, checked against the CPU. Without a GPU it says why and uses the CPU.

use ipsa_prediction::gpu_context;
use ipsa_prediction::moving_average_cpu;
use ipsa_prediction::moving_average_gpu;
use ipsa_prediction::synthetic_prices;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let prices = synthetic_prices(100_000, 42);
    let window = 20;
    let cpu = moving_average_cpu(&prices, window)?;
    println!(
        "CPU: {} moving averages, last = {:.2}",
        cpu.len(),
        cpu[cpu.len() - 1]
    );

    match gpu_context() {
        Ok(ctx) => {
            let gpu = moving_average_gpu(&ctx, &prices, window)?;
            let max_diff = cpu
                .iter()
                .zip(&gpu)
                .map(|(c, g)| (c - g).abs())
                .fold(0.0_f32, f32::max);
            println!(
                "GPU ({}): last = {:.2}, max |CPU - GPU| = {max_diff:e}",
                ctx.name()?,
                gpu[gpu.len() - 1]
            );
        }
        Err(why) => println!("GPU skipped: {why}"),
    }
    Ok(())
}
