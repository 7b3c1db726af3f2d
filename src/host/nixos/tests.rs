//! `generate` on small fake machines: what each GPU mix gets.

use super::render::wrap;
use super::*;
use crate::error::HostError;

fn machine(devices: &[(&str, &str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, vendor, device) in devices {
        let d = dir.path().join("sys/bus/pci/devices").join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("vendor"), format!("0x{vendor}\n")).unwrap();
        std::fs::write(d.join("device"), format!("0x{device}\n")).unwrap();
        std::fs::write(d.join("class"), "0x030000\n").unwrap();
    }
    dir
}

/// Makes the fake machine in `root` a laptop (its DMI chassis type).
fn laptop(root: &Path) {
    let dmi = root.join("sys/class/dmi/id");
    std::fs::create_dir_all(&dmi).unwrap();
    std::fs::write(dmi.join("chassis_type"), "10\n").unwrap();
}

fn opts() -> NixosOptions {
    NixosOptions {
        open: None,
        prime: PrimeChoice::Auto,
        container_toolkit: false,
        gpu: None,
    }
}

#[test]
fn open_follows_the_generation() {
    for (device, open, package) in [
        ("2684", true, "stable"),      // RTX 4090
        ("2b85", true, "stable"),      // RTX 5090
        ("1b80", false, "legacy_580"), // GTX 1080
        ("ffff", true, "stable"),      // unknown
    ] {
        let dir = machine(&[("0000:01:00.0", "10de", device)]);
        let m = generate(&Host::at(dir.path()), &opts()).unwrap();
        assert_eq!((m.open, m.package), (open, package), "{device}");
        assert!(m.text.contains(&format!("open = {open};")), "{}", m.text);
        assert!(m.prime.is_none());
    }
}

#[test]
fn prime_needs_an_integrated_gpu() {
    let dir = machine(&[("0000:01:00.0", "10de", "2684")]);
    let host = Host::at(dir.path());
    let o = NixosOptions {
        prime: PrimeChoice::Offload,
        ..opts()
    };
    assert!(matches!(
        generate(&host, &o),
        Err(Error::Host(HostError::PrimeNeedsIntegratedGpu { .. }))
    ));

    let dir = machine(&[
        ("0000:c1:00.0", "10de", "28a0"),
        ("0000:05:00.0", "1002", "15bf"),
    ]);
    laptop(dir.path());
    let m = generate(&Host::at(dir.path()), &opts()).unwrap();
    let p = m.prime.unwrap();
    assert_eq!(
        (
            p.mode,
            p.igpu_option,
            p.igpu_bus_id.as_str(),
            p.nvidia_bus_id.as_str()
        ),
        ("offload", "amdgpuBusId", "PCI:5:0:0", "PCI:193:0:0")
    );
    assert!(
        m.text.contains("nvidiaBusId = \"PCI:193:0:0\";"),
        "{}",
        m.text
    );
}

#[test]
fn no_nvidia_gpu_is_an_error() {
    let dir = machine(&[("0000:00:02.0", "8086", "a780")]);
    assert!(matches!(
        generate(&Host::at(dir.path()), &opts()),
        Err(Error::Host(HostError::NoNvidiaGpu { .. }))
    ));
}

#[test]
fn mixed_generations_need_a_choice() {
    let dir = machine(&[
        ("0000:01:00.0", "10de", "1b80"),
        ("0000:02:00.0", "10de", "2b85"),
    ]);
    let host = Host::at(dir.path());
    assert!(matches!(
        generate(&host, &opts()),
        Err(Error::Host(HostError::ConflictingGpus { .. }))
    ));
    let m = generate(
        &host,
        &NixosOptions {
            open: Some(true),
            ..opts()
        },
    )
    .unwrap();
    assert!(m.open);
    // The --open conflict, and the GTX 1080's compute capability.
    assert_eq!(m.warnings.len(), 2, "{:?}", m.warnings);
    assert!(m.warnings[0].starts_with("--open:"), "{:?}", m.warnings);
}

#[test]
fn data_centre_boards_get_the_data_centre_driver() {
    let with_class = |devices: &[(&str, &str, &str)]| {
        let dir = machine(&[]);
        for (name, device, class) in devices {
            let d = dir.path().join("sys/bus/pci/devices").join(name);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("vendor"), "0x10de\n").unwrap();
            std::fs::write(d.join("device"), format!("0x{device}\n")).unwrap();
            std::fs::write(d.join("class"), format!("0x{class}\n")).unwrap();
        }
        dir
    };
    let nvidia_lines = |m: &HostModule| {
        m.text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
    };
    // H100 SXM with its NVSwitch.
    let dir = with_class(&[
        ("0000:18:00.0", "2330", "030200"),
        ("0000:05:00.0", "22a3", "068000"),
    ]);
    let m = generate(&Host::at(dir.path()), &opts()).unwrap();
    let code = nvidia_lines(&m);
    assert!(m.datacenter && m.package == "dc" && m.open, "{}", m.text);
    assert!(code.contains("datacenter.enable = true;"), "{code}");
    assert!(!code.contains("videoDrivers"), "{code}");
    assert!(code.contains("nvidiaSettings = false;"), "{code}");
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);

    // B200: no NVSwitch on PCI, the GPU ID decides.
    let dir = with_class(&[("0000:18:00.0", "2901", "030200")]);
    let m = generate(&Host::at(dir.path()), &opts()).unwrap();
    assert!(m.datacenter && m.nvswitches.is_empty(), "{}", m.text);
    assert!(m.text.contains("NVLSM"), "{}", m.text);

    // An H100 SXM alone (a VM): the normal driver, and a warning.
    let dir = with_class(&[("0000:07:00.0", "2330", "030200")]);
    let m = generate(&Host::at(dir.path()), &opts()).unwrap();
    assert!(!m.datacenter && m.package == "stable", "{}", m.text);
    assert!(nvidia_lines(&m).contains("videoDrivers = [ \"nvidia\" ];"));
    assert_eq!(m.warnings.len(), 1);
    assert!(m.warnings[0].contains("error 802"), "{:?}", m.warnings);

    // A PCIe data-centre card: the normal driver, with the reason.
    let dir = with_class(&[("0000:41:00.0", "26b9", "030200")]);
    let m = generate(&Host::at(dir.path()), &opts()).unwrap();
    assert!(!m.datacenter && m.warnings.is_empty());
    assert!(m.text.contains("data-centre PCIe card"), "{}", m.text);
}

#[test]
fn laptops_power_the_gpu_down_and_desktops_keep_it_up() {
    // Turing dGPU with an Intel iGPU: offload and fine-grained power
    // management, no persistenced.
    let dir = machine(&[
        ("0000:00:02.0", "8086", "9bc4"),
        ("0000:01:00.0", "10de", "1f15"),
    ]);
    laptop(dir.path());
    let m = generate(&Host::at(dir.path()), &opts()).unwrap();
    assert!(m.power_management && !m.persistenced);
    assert!(m.text.contains("powerManagement.finegrained = true;"));
    assert!(!m.text.contains("nvidiaPersistenced"));
    // Sync cannot power the GPU down; no fine-grained management.
    let sync = NixosOptions {
        prime: PrimeChoice::Sync,
        ..opts()
    };
    let m = generate(&Host::at(dir.path()), &sync).unwrap();
    assert!(!m.power_management && !m.text.contains("finegrained"));
    // A Pascal laptop: RTD3 needs Turing.
    let dir = machine(&[
        ("0000:00:02.0", "8086", "9bc4"),
        ("0000:01:00.0", "10de", "1c8d"),
    ]);
    laptop(dir.path());
    let m = generate(&Host::at(dir.path()), &opts()).unwrap();
    assert!(!m.power_management && !m.persistenced);
    // A desktop.
    let dir = machine(&[("0000:01:00.0", "10de", "2684")]);
    let m = generate(&Host::at(dir.path()), &opts()).unwrap();
    assert!(!m.power_management && m.persistenced);
}

#[test]
fn old_gpus_are_told_about_the_cache() {
    let dir = machine(&[("0000:01:00.0", "10de", "1b80")]); // GTX 1080
    let m = generate(&Host::at(dir.path()), &opts()).unwrap();
    assert_eq!(m.package, "legacy_580");
    assert!(
        m.text.contains("cudaCapabilities = [ \"6.1\" ]"),
        "{}",
        m.text
    );
    assert_eq!(m.warnings.len(), 1, "{:?}", m.warnings);
    assert!(m.warnings[0].contains("6.1") && m.warnings[0].contains("no kernel image"));
    let dir = machine(&[("0000:01:00.0", "10de", "1e07")]); // RTX 2080 Ti
    let m = generate(&Host::at(dir.path()), &opts()).unwrap();
    assert!(m.warnings.is_empty() && !m.text.contains("cudaCapabilities"));
    // Maxwell: the table knows a range, the comment says how to pick.
    let dir = machine(&[("0000:01:00.0", "10de", "13c2")]); // GTX 970
    let m = generate(&Host::at(dir.path()), &opts()).unwrap();
    assert!(m.text.contains("one of 5.0-5.2"), "{}", m.text);
    // Kepler: no CUDA in nixpkgs supports it.
    let dir = machine(&[("0000:01:00.0", "10de", "1180")]); // GTX 680
    let m = generate(&Host::at(dir.path()), &opts()).unwrap();
    assert_eq!(m.package, "legacy_470");
    assert!(
        m.text.contains("cannot use it") && !m.text.contains("cudaCapabilities = ["),
        "{}",
        m.text
    );
}

#[test]
fn comments_wrap() {
    let lines = wrap(&"word ".repeat(40));
    assert!(
        lines.len() > 1 && lines.iter().all(|l| l.len() <= 74),
        "{lines:?}"
    );
    assert_eq!(wrap("short text"), ["short text"]);
}

#[test]
fn existing_files_are_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.nix");
    assert_eq!(
        write_module(&path, "a\n", false).unwrap(),
        WriteOutcome::Written
    );
    assert_eq!(
        write_module(&path, "a\n", false).unwrap(),
        WriteOutcome::Unchanged
    );
    let WriteOutcome::Differs { diff } = write_module(&path, "b\n", false).unwrap() else {
        panic!("expected a diff");
    };
    assert!(diff.contains("-a") && diff.contains("+b"), "{diff}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\n");
    assert_eq!(
        write_module(&path, "b\n", true).unwrap(),
        WriteOutcome::Written
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "b\n");
}

/// One fixture machine's decision, as the table below states it.
struct Expected {
    datacenter: bool,
    package: &'static str,
    open: bool,
    /// PRIME mode and the two bus IDs.
    prime: Option<(&'static str, &'static str, &'static str)>,
    /// The reason PRIME is off beside an integrated GPU holds this word.
    prime_off: Option<&'static str>,
    power_management: bool,
    persistenced: bool,
    /// The reason lines of `open` begin so.
    open_reason: &'static str,
    /// One word each warning holds, in order.
    warnings: &'static [&'static str],
}

const fn plain(package: &'static str, open: bool, open_reason: &'static str) -> Expected {
    Expected {
        datacenter: false,
        package,
        open,
        prime: None,
        prime_off: None,
        power_management: false,
        persistenced: true,
        open_reason,
        warnings: &[],
    }
}

/// `plan`, decided for the fixture machine `name`, against `want`.
fn assert_plan(name: &str, plan: &ModulePlan, want: &Expected) {
    let prime = plan
        .prime
        .as_ref()
        .map(|p| (p.mode, p.igpu_bus_id.as_str(), p.nvidia_bus_id.as_str()));
    assert_eq!(
        (plan.datacenter, plan.package, plan.open, prime),
        (want.datacenter, want.package, want.open, want.prime),
        "{name}"
    );
    assert_eq!(
        (plan.power_management, plan.persistenced),
        (want.power_management, want.persistenced),
        "{name}"
    );
    let off = plan.prime_off.as_ref().map(|(reason, _)| reason.join(" "));
    match (&off, want.prime_off) {
        (None, None) => {}
        (Some(reason), Some(word)) => assert!(reason.contains(word), "{name}: {reason}"),
        _ => panic!("{name}: PRIME off: {off:?}, expected {:?}", want.prime_off),
    }
    assert!(
        plan.open_reason[0].starts_with(want.open_reason),
        "{name}: {:?}",
        plan.open_reason
    );
    assert_eq!(
        plan.warnings.len(),
        want.warnings.len(),
        "{name}: {:?}",
        plan.warnings
    );
    for (warning, word) in plan.warnings.iter().zip(want.warnings.iter()) {
        assert!(warning.contains(word), "{name}: {warning}");
    }
    // The data-centre driver comes with its reason, the normal one without.
    assert_eq!(
        !plan.datacenter_reason.is_empty(),
        plan.datacenter,
        "{name}"
    );
    assert!(
        render(plan)
            .unwrap()
            .contains(&format!("open = {};", plan.open))
    );
}

#[test]
fn decide_on_each_fixture_machine() {
    const TURING: &str = "Open kernel modules: the";
    const OFFLOAD: Expected = Expected {
        prime: Some(("offload", "PCI:0:2:0", "PCI:1:0:0")),
        power_management: true,
        persistenced: false,
        ..plain("stable", true, TURING)
    };
    let table: &[(&str, Expected)] = &[
        ("laptop-intel-nvidia", OFFLOAD),
        ("laptop-turing-intel", OFFLOAD),
        ("desktop-nvidia", plain("stable", true, TURING)),
        // The monitor on the RTX 4080, Raphael's iGPU on as it ships.
        (
            "ryzen-desktop-rtx",
            Expected {
                prime_off: Some("the monitor is on the NVIDIA GPU"),
                ..plain("stable", true, TURING)
            },
        ),
        // The monitor on the iGPU, but a desktop.
        (
            "intel-desktop-igpu",
            Expected {
                prime_off: Some("not a laptop (DMI chassis type 3"),
                ..plain("stable", true, TURING)
            },
        ),
        // A Radeon card for the display is no integrated GPU.
        ("workstation-radeon-a6000", plain("stable", true, TURING)),
        ("non-nixos", plain("stable", true, TURING)),
        ("broken", plain("stable", true, TURING)),
        (
            "pascal-gtx1080",
            Expected {
                warnings: &["compute capability 6.1"],
                ..plain("legacy_580", false, "Closed kernel modules")
            },
        ),
        (
            "volta-v100-pcie",
            Expected {
                warnings: &["compute capability 7.0"],
                ..plain("legacy_580", false, "Closed kernel modules")
            },
        ),
        (
            "blackwell-rtx5090",
            plain("stable", true, "Open kernel modules, REQUIRED"),
        ),
        (
            "hgx-h100",
            Expected {
                datacenter: true,
                ..plain("dc", true, TURING)
            },
        ),
        ("pcie-l40s", plain("stable", true, TURING)),
        (
            "unknown-nvidia",
            plain("stable", true, "Open kernel modules: the NVIDIA GPU"),
        ),
    ];
    let facts = HostFacts::embedded().unwrap();
    let gpu_table = GpuTable::embedded().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hosts");
    for (name, want) in table {
        let machine = Machine::scan(&Host::at(&fixtures.join(name).join("root")), &gpu_table);
        let plan = decide(&machine, &facts, &opts()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_plan(name, &plan, want);
    }
    let no_gpu = Machine::scan(&Host::at(&fixtures.join("no-gpu/root")), &gpu_table);
    assert!(matches!(
        decide(&no_gpu, &facts, &opts()),
        Err(Error::Host(HostError::NoNvidiaGpu { .. }))
    ));
}

#[test]
fn desktops_keep_prime_off_and_show_the_block_commented_out() {
    // A Ryzen 7000 desktop: Raphael's iGPU beside an RTX 4080, no laptop.
    let dir = machine(&[
        ("0000:01:00.0", "10de", "2704"),
        ("0000:0e:00.0", "1002", "164e"),
    ]);
    let m = generate(&Host::at(dir.path()), &opts()).unwrap();
    assert!(m.prime.is_none() && !m.power_management && m.persistenced);
    assert!(!m.chassis.is_laptop());
    let code: Vec<&str> = m
        .text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect();
    assert!(
        !code
            .iter()
            .any(|l| l.contains("prime") || l.contains("finegrained")),
        "{}",
        m.text
    );
    assert!(
        m.text.contains("# PRIME is off: this is not a laptop"),
        "{}",
        m.text
    );
    assert!(
        m.text.contains("#   amdgpuBusId = \"PCI:14:0:0\";"),
        "{}",
        m.text
    );
    // Asked for, offload is written as asked.
    let asked = NixosOptions {
        prime: PrimeChoice::Offload,
        ..opts()
    };
    let m = generate(&Host::at(dir.path()), &asked).unwrap();
    assert_eq!(m.prime.unwrap().mode, "offload");
    assert!(
        !m.power_management,
        "fine-grained power management is for laptops"
    );

    // A laptop whose MUX switch gives the screen to the NVIDIA GPU.
    let dir = machine(&[
        ("0000:01:00.0", "10de", "28e0"),
        ("0000:00:02.0", "8086", "a7a0"),
    ]);
    laptop(dir.path());
    std::fs::write(
        dir.path().join("sys/bus/pci/devices/0000:01:00.0/boot_vga"),
        "1\n",
    )
    .unwrap();
    let m = generate(&Host::at(dir.path()), &opts()).unwrap();
    assert!(m.prime.is_none(), "{}", m.text);
    assert!(
        m.text.contains("the monitor is on the NVIDIA GPU"),
        "{}",
        m.text
    );

    // An Intel GPU that is not at 00:02.0 is a discrete card (Arc).
    let dir = machine(&[
        ("0000:01:00.0", "10de", "2684"),
        ("0000:03:00.0", "8086", "56a0"),
    ]);
    laptop(dir.path());
    let m = generate(&Host::at(dir.path()), &opts()).unwrap();
    assert!(
        m.prime.is_none() && !m.text.contains("PRIME is off"),
        "{}",
        m.text
    );
}

#[test]
fn wsl2_gets_the_windows_driver_and_a_jetson_jetpack_nixos() {
    let dir = machine(&[("0000:00:00.0", "1414", "008e")]);
    let root = dir.path();
    std::fs::create_dir_all(root.join("proc/sys/kernel")).unwrap();
    std::fs::write(
        root.join("proc/sys/kernel/osrelease"),
        "6.6.87.2-microsoft-standard-WSL2\n",
    )
    .unwrap();
    let err = generate(&Host::at(root), &opts()).unwrap_err();
    assert!(
        matches!(err, Error::Host(HostError::WslWithoutGpu)),
        "{err}"
    );
    std::fs::create_dir_all(root.join("dev")).unwrap();
    std::fs::write(root.join("dev/dxg"), "").unwrap();
    let m = generate(&Host::at(root), &opts()).unwrap();
    assert!(m.wsl && m.prime.is_none() && !m.persistenced);
    assert!(
        m.text.contains("wsl.useWindowsDriver = true;"),
        "{}",
        m.text
    );
    let code: Vec<&str> = m
        .text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect();
    assert!(
        !code.iter().any(|l| l.contains("hardware.nvidia")),
        "{}",
        m.text
    );
    assert!(m.text.contains("wsl --shutdown"), "{}", m.text);

    std::fs::create_dir_all(root.join("proc/device-tree")).unwrap();
    std::fs::write(
        root.join("proc/device-tree/compatible"),
        "nvidia,p3768-0000+p3767-0005\0nvidia,tegra234\0",
    )
    .unwrap();
    let err = generate(&Host::at(root), &opts()).unwrap_err();
    assert!(
        matches!(err, Error::Host(HostError::Jetson { .. })),
        "{err}"
    );
    assert!(err.hint().unwrap().contains("jetpack-nixos"));
}

#[test]
fn a_named_gpu_is_an_id_or_a_generation() {
    let table = GpuTable::embedded().unwrap();
    assert_eq!(table.device_named("10de:2684"), Some(0x2684));
    assert_eq!(table.device_named("2B85"), Some(0x2b85));
    // The widest range of a generation: its consumer cards.
    let pascal = table.device_named("Pascal").unwrap();
    assert_eq!(table.lookup(pascal).unwrap().compute_capability, "6.1");
    let ada = table.device_named("ada").unwrap();
    assert_eq!(table.lookup(ada).unwrap().arch, "Ada Lovelace");
    for unknown in ["", "rt", "banana", "10de:26"] {
        assert_eq!(table.device_named(unknown), None, "{unknown}");
    }
}
