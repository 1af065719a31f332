fn main() {
    std::process::exit(mergebench::cli::main());
}
