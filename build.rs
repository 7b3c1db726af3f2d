// include_dir does not notice files added to an embedded directory; this line
// makes cargo rescan the scaffolds on every change.
fn main() {
    println!("cargo::rerun-if-changed=scaffolds");
}
