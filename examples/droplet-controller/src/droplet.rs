//! The droplet fields the function returns, picked from DigitalOcean's droplet object.
//!
//! The seed lists them: id, name, status, creation time, memory, vCPUs, disk, region, image,
//! the public IPv4 address (from `networks.v4`, the entry of type `public`) and tags.

use crate::error::ControllerError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One droplet as the function returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DropletSummary {
    /// The droplet's id.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// `new`, `active`, `off` or `archive`.
    pub status: String,
    /// When it was created (ISO 8601).
    pub created_at: String,
    /// Memory in MiB.
    pub memory: u64,
    /// Number of vCPUs.
    pub vcpus: u64,
    /// Disk size in GiB.
    pub disk: u64,
    /// Where it runs.
    pub region: Option<RegionSummary>,
    /// What it was built from.
    pub image: Option<ImageSummary>,
    /// Its public IPv4 address, if it has one.
    pub public_ipv4: Option<String>,
    /// Its tags.
    pub tags: Vec<String>,
}

/// A droplet's region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionSummary {
    /// E.g. `nyc3`.
    #[serde(default)]
    pub slug: String,
    /// E.g. `New York 3`.
    #[serde(default)]
    pub name: String,
}

/// A droplet's image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSummary {
    /// E.g. `20.04 (LTS) x64`.
    #[serde(default)]
    pub name: Option<String>,
    /// E.g. `Ubuntu`.
    #[serde(default)]
    pub distribution: Option<String>,
}

/// The parts of DigitalOcean's droplet object the summary reads.
#[derive(Deserialize)]
struct ApiDroplet {
    id: u64,
    name: String,
    status: String,
    #[serde(default)]
    created_at: String,
    #[serde(default)]
    memory: u64,
    #[serde(default)]
    vcpus: u64,
    #[serde(default)]
    disk: u64,
    #[serde(default)]
    region: Option<RegionSummary>,
    #[serde(default)]
    image: Option<ImageSummary>,
    #[serde(default)]
    networks: Option<ApiNetworks>,
    #[serde(default)]
    tags: Vec<String>,
}

/// `networks` of a droplet.
#[derive(Deserialize)]
struct ApiNetworks {
    #[serde(default)]
    v4: Vec<ApiNetwork>,
}

/// One `networks.v4` entry.
#[derive(Deserialize)]
struct ApiNetwork {
    ip_address: String,
    #[serde(rename = "type")]
    kind: String,
}

/// Picks the summary fields from a DigitalOcean droplet object.
pub fn summarize(droplet: &Value) -> Result<DropletSummary, ControllerError> {
    let droplet = ApiDroplet::deserialize(droplet).map_err(|error| {
        ControllerError::UnexpectedResponse(format!(
            "a droplet does not have the documented shape: {error}"
        ))
    })?;
    let public_ipv4 = droplet.networks.and_then(|networks| {
        networks
            .v4
            .into_iter()
            .find(|network| network.kind == "public")
            .map(|network| network.ip_address)
    });
    Ok(DropletSummary {
        id: droplet.id,
        name: droplet.name,
        status: droplet.status,
        created_at: droplet.created_at,
        memory: droplet.memory,
        vcpus: droplet.vcpus,
        disk: droplet.disk,
        region: droplet.region,
        image: droplet.image,
        public_ipv4,
        tags: droplet.tags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The first droplet of the OpenAPI description's `droplets_all` example, abridged.
    fn example() -> Value {
        json!({
            "id": 3164444, "name": "example.com", "memory": 1024, "vcpus": 1, "disk": 25,
            "locked": false, "status": "active", "kernel": null,
            "created_at": "2020-07-21T18:37:44Z",
            "features": ["backups", "private_networking", "ipv6"],
            "image": {"id": 63663980, "name": "20.04 (LTS) x64", "distribution": "Ubuntu",
                      "slug": "ubuntu-20-04-x64", "public": true},
            "size_slug": "s-1vcpu-1gb",
            "networks": {
                "v4": [
                    {"ip_address": "10.128.192.124", "netmask": "255.255.0.0", "gateway": "nil", "type": "private"},
                    {"ip_address": "192.241.165.154", "netmask": "255.255.255.0", "gateway": "192.241.165.1", "type": "public"}
                ],
                "v6": [{"ip_address": "2604:a880:0:1010::18a:a001", "netmask": 64, "gateway": "2604:a880:0:1010::1", "type": "public"}]
            },
            "region": {"name": "New York 3", "slug": "nyc3", "available": true},
            "tags": ["web", "env:prod"],
            "vpc_uuid": "760e09ef-dc84-11e8-981e-3cfdfeaae000"
        })
    }

    #[test]
    fn picks_the_seed_fields_and_the_public_ipv4() {
        let summary = summarize(&example()).unwrap();
        assert_eq!(
            serde_json::to_value(&summary).unwrap(),
            json!({
                "id": 3164444, "name": "example.com", "status": "active",
                "created_at": "2020-07-21T18:37:44Z", "memory": 1024, "vcpus": 1, "disk": 25,
                "region": {"slug": "nyc3", "name": "New York 3"},
                "image": {"name": "20.04 (LTS) x64", "distribution": "Ubuntu"},
                "public_ipv4": "192.241.165.154",
                "tags": ["web", "env:prod"]
            })
        );
    }

    #[test]
    fn a_droplet_without_public_network_has_no_ipv4() {
        let mut droplet = example();
        droplet["networks"]["v4"] = json!([{"ip_address": "10.0.0.2", "netmask": "255.0.0.0", "gateway": "", "type": "private"}]);
        assert_eq!(summarize(&droplet).unwrap().public_ipv4, None);
        droplet["networks"] = Value::Null;
        assert_eq!(summarize(&droplet).unwrap().public_ipv4, None);
    }

    #[test]
    fn a_droplet_without_an_id_is_an_unexpected_response() {
        let mut droplet = example();
        droplet.as_object_mut().unwrap().remove("id");
        let error = summarize(&droplet).unwrap_err();
        assert!(
            matches!(error, ControllerError::UnexpectedResponse(m) if m.contains("missing field `id`"))
        );
    }
}
