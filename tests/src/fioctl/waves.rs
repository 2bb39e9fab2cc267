//! `fioctl waves sign <wave> -k targets.tgz` (subcommands/waves/sign.go):
//! the wave's targets fetched (`FactoryGetWave(…, showTargets=true)`),
//! `json.MarshalCanonical(targets.Signed)`, signed by `signTargets` (one
//! offline targets key: of the targets role of `TufRootGet`, the CI root,
//! every key but the one whose public value is `TufTargetsOnlineKey`'s),
//! and POSTed to `…/waves/<wave>/sign/` as `{"signatures": […]}`.

use std::path::Path;

use serde_json::{Map, Value};

use super::{creds, crypto, go_marshal, reading_key, targets_signed_bytes, Fioctl, Res};

impl Fioctl {
    /// `fioctl waves sign NAME -k KEYS`. Returns the key id that signed.
    pub fn waves_sign(&mut self, name: &str, keys: &Path) -> Res<String> {
        let creds = self.read_creds(keys)?;
        let url = format!("{}/waves/{name}/?show-targets=1", self.factories());
        let body = self.api.get(&url).map_err(|e| self.die(&[], &e.text()))?;
        let wave: Value =
            serde_json::from_slice(&body).map_err(|e| self.die(&[], &e.to_string()))?;
        let meta =
            targets_signed_bytes(&wave["targets"]["signed"]).map_err(|e| self.die(&[], &e))?;
        // signTargets
        let root = self
            .root_get(false, 0)
            .map_err(|e| self.die(&["Failed to fetch root role"], &e.text()))?;
        let online_url = format!("{}/ci-targets.pub", self.factories());
        let online: Value = self
            .api
            .get(&online_url)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| self.die(&[], "Failed to fetch online Targets public key"))?;
        let online_pub = online["keyval"]["public"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let keys_map = root.signed.keys.clone().unwrap_or_default();
        let signer_kids: Vec<String> = root
            .signed
            .role_ids("targets")
            .into_iter()
            .filter(|kid| keys_map.get(kid).map(|k| k.public.as_str()) != Some(online_pub.as_str()))
            .collect();
        if signer_kids.is_empty() {
            return Err(self.die(
                &[],
                "Root role is not configured to sign Targets offline.\nPlease, run \"fioctl keys tuf rotate-offline-key --role=targets\" in order to create offline Targets keys.",
            ));
        }
        let signer = creds::find_one(&root, &creds, &signer_kids)
            .map_err(|e| self.die(&[&reading_key("targets", "current")], e.text()))?;
        let sigs = crypto::sign_meta(&meta, &[&signer]);
        let mut m = Map::new();
        m.insert(
            "signatures".into(),
            Value::Array(sigs.iter().map(|s| s.encode()).collect()),
        );
        let post = format!("{}/waves/{name}/sign/", self.factories());
        self.api
            .post(&post, Some(go_marshal(&Value::Object(m))))
            .map_err(|e| self.die(&[], &e.text()))?;
        Ok(signer.id)
    }
}
