fn main() -> std::process::ExitCode {
    cargo_nixcuda::run(std::env::args_os())
}
