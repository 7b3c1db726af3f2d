//! A `ModulePlan` through the module template, formatted with nixfmt.

use serde_json::json;

use super::super::data::MODULE_TEMPLATE;
use super::ModulePlan;
use crate::error::{Error, Result};

pub fn render(plan: &ModulePlan) -> Result<String> {
    let render_error = |message: String| Error::Render {
        file: MODULE_TEMPLATE.path.to_string(),
        message,
    };
    // The scaffolds' one render path, with its guards, for the tool's own
    // template too.
    let rendered =
        crate::scaffold::template::render_string(MODULE_TEMPLATE.text, &template_data(plan))
            .map_err(render_error)?;
    nixfmt_rs::format(&rendered).map_err(|e| {
        render_error(format!(
            "the rendered module is not valid Nix:\n{}",
            nixfmt_rs::format_error(&rendered, Some("nixos-module.nix"), &e)
        ))
    })
}

/// The values the template reads, by the names it reads them.
fn template_data(plan: &ModulePlan) -> serde_json::Value {
    let gpu_rows: Vec<_> = plan
        .gpus
        .iter()
        .map(|g| {
            json!({
                "address": g.address,
                "vendor": g.vendor,
                "device_id": format!("{}:{}", g.vendor_id, g.device_id),
                "description": g.description(),
                "bus_id": g.bus_id,
            })
        })
        .collect();
    let prime_json = |p: &super::Prime| {
        json!({
            "offload": p.mode == "offload",
            "igpu_option": p.igpu_option,
            "igpu_bus_id": p.igpu_bus_id,
            "nvidia_bus_id": p.nvidia_bus_id,
            "igpu_address": p.igpu_address,
            "nvidia_address": p.nvidia_address,
        })
    };
    let prime = plan.prime.as_ref().map(prime_json);
    let prime_off = plan.prime_off.as_ref().map(|(reason, p)| {
        let mut block = prime_json(p);
        block["reason"] = json!(reason);
        block
    });
    let caches: Vec<_> = plan
        .caches
        .iter()
        .map(|c| {
            json!({
                "url": c.url,
                "key": c.key,
                // Continuation lines are indented under the dash.
                "about_lines": wrap_at(&format!("- {}: {}.", c.url, c.about), 72)
                    .into_iter()
                    .enumerate()
                    .map(|(i, l)| if i == 0 { l } else { format!("  {l}") })
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "tool_version": env!("CARGO_PKG_VERSION"),
        "named_gpu": plan.named_gpu,
        "gpus": gpu_rows,
        "nvswitches": plan.nvswitches,
        "datacenter": plan.datacenter,
        "datacenter_reason": plan.datacenter_reason,
        "driver_comment": plan.driver_comment,
        "open": plan.open,
        "open_reason": plan.open_reason,
        "package": plan.package,
        "package_reason": plan.package_reason,
        "cuda_note": plan.cuda_note,
        "power_management": plan.power_management,
        "persistenced": plan.persistenced,
        "prime": prime,
        "prime_off": prime_off,
        "container_toolkit": plan.container_toolkit,
        "caches": caches,
        "wsl": plan.wsl,
        "arch_note": plan.arch_note,
    })
}

/// `text` as comment lines of at most 74 characters (the module's comments
/// sit at an indent of up to four).
pub(super) fn wrap(text: &str) -> Vec<String> {
    wrap_at(text, 74)
}

fn wrap_at(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}
