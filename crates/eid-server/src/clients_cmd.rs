//! `eid-server clients add|list|remove`: edit the `[[clients]]` tables of the
//! configuration file in place.
//!
//! The file is edited with `toml_edit`, so the comments and layout of everything else are
//! kept. Before anything is written, the whole new file is validated as `serve` would
//! validate it ([`ToolSettings::parse`]: every setting, with the process's `EID_*`
//! overrides, except the key-encryption key, which these commands do not need), so a
//! file `serve` would refuse is never written. The new file replaces the old one
//! atomically (a temporary file in the same directory, renamed over it) with the same
//! permissions. Servers read the file at start: restart them to apply a change.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, Version};
use base64ct::{Base64UrlUnpadded, Encoding as _};
use rand::TryRng as _;
use rand::rngs::SysRng;
use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, value};
use zeroize::Zeroizing;

use crate::cli::{AuthMethod, ClientAddArgs, ClientRemoveArgs, ConfigArgs, SubjectTypeArg};
use crate::config::{MIN_PASSWORD_PARAMS, ToolSettings};

/// Bytes of randomness in a generated client secret.
const SECRET_BYTES: usize = 32;

/// Largest JWKS file accepted.
const MAX_JWKS_BYTES: u64 = 64 * 1024;

/// Adds a client; for the secret methods prints the generated secret once.
pub fn add(args: ClientAddArgs) -> anyhow::Result<()> {
    let path = &args.config.config;
    let mut doc = read(path)?;
    if find(&doc, &args.client_id)?.is_some() {
        bail!(
            "a client with client_id {:?} already exists in {}: remove it first or choose \
             another client_id",
            args.client_id,
            path.display()
        );
    }
    let secret = match args.auth {
        AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost => Some(generate_secret()?),
        AuthMethod::PrivateKeyJwt | AuthMethod::None => None,
    };
    let table = client_table(&args, secret.as_ref().map(|s| s.as_str()))?;
    match doc.get_mut("clients") {
        None => {
            doc.insert("clients", Item::ArrayOfTables(ArrayOfTables::new()));
        }
        Some(Item::ArrayOfTables(_)) => {}
        Some(_) => bail!(
            "clients in {} is not written as [[clients]] tables: rewrite it that way to edit it \
             with this command",
            path.display()
        ),
    }
    clients_mut(&mut doc)
        .context("clients was just checked to be an array of tables")?
        .push(table);
    write_validated(path, &doc)?;
    println!("added client {} to {}", args.client_id, path.display());
    if let Some(secret) = secret {
        println!("client_secret: {}", secret.as_str());
        eprintln!(
            "The secret is shown only this once: give it to the relying party now. Only its \
             hash is stored."
        );
    }
    eprintln!("Restart the servers to apply the change.");
    Ok(())
}

/// Lists the clients: identifiers, names, methods, URIs and options, never secrets,
/// their hashes or keys.
pub fn list(args: ConfigArgs) -> anyhow::Result<()> {
    let doc = read(&args.config)?;
    let clients = clients(&doc, &args.config)?;
    if clients.is_empty() {
        println!("no clients in {}", args.config.display());
    }
    for table in clients {
        println!("{}", text(table, "client_id").unwrap_or("(no client_id)"));
        for key in ["name", "token_endpoint_auth_method"] {
            println!("  {key}: {}", text(table, key).unwrap_or("(missing)"));
        }
        println!(
            "  subject_type: {}",
            text(table, "subject_type").unwrap_or("pairwise")
        );
        let scopes = texts(table, "scopes");
        let scopes = if scopes.is_empty() {
            "openid".to_owned()
        } else {
            scopes.join(" ")
        };
        println!("  scopes: {scopes}");
        for key in ["redirect_uris", "post_logout_redirect_uris"] {
            for uri in texts(table, key) {
                println!("  {key}: {uri}");
            }
        }
        for key in ["require_par", "client_credentials"] {
            let flag = table.get(key).and_then(Item::as_bool).unwrap_or(false);
            println!("  {key}: {flag}");
        }
    }
    Ok(())
}

/// Removes a client.
pub fn remove(args: ClientRemoveArgs) -> anyhow::Result<()> {
    let path = &args.config.config;
    let mut doc = read(path)?;
    let Some(index) = find(&doc, &args.client_id)? else {
        bail!(
            "no client with client_id {:?} in {}",
            args.client_id,
            path.display()
        );
    };
    let clients = clients_mut(&mut doc).context("clients holds the client just found")?;
    // The comments above the first [[clients]] header introduce the whole list: the next
    // client inherits them.
    let intro = (index == 0)
        .then(|| clients.get(0)?.decor().prefix().cloned())
        .flatten();
    clients.remove(index);
    if let (Some(intro), Some(next)) = (intro, clients.get_mut(0)) {
        next.decor_mut().set_prefix(intro);
    }
    if clients.is_empty() {
        doc.remove("clients");
    }
    write_validated(path, &doc)?;
    println!("removed client {} from {}", args.client_id, path.display());
    eprintln!("Restart the servers to apply the change.");
    Ok(())
}

pub(crate) fn read(path: &Path) -> anyhow::Result<DocumentMut> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    // The parser's message quotes the offending line, which may hold a secret: name the
    // file only, `config check` gives the line.
    text.parse::<DocumentMut>().map_err(|_| {
        anyhow::anyhow!(
            "{} is not valid TOML (`eid-server config check` shows where)",
            path.display()
        )
    })
}

/// The `[[clients]]` tables (none when the key is absent).
fn clients<'a>(doc: &'a DocumentMut, path: &Path) -> anyhow::Result<Vec<&'a Table>> {
    match doc.get("clients") {
        None => Ok(Vec::new()),
        Some(Item::ArrayOfTables(tables)) => Ok(tables.iter().collect()),
        Some(_) => bail!(
            "clients in {} is not written as [[clients]] tables",
            path.display()
        ),
    }
}

fn clients_mut(doc: &mut DocumentMut) -> Option<&mut ArrayOfTables> {
    doc.get_mut("clients")?.as_array_of_tables_mut()
}

/// The index of the client with `client_id`, if any.
fn find(doc: &DocumentMut, client_id: &str) -> anyhow::Result<Option<usize>> {
    let tables = match doc.get("clients") {
        None => return Ok(None),
        Some(Item::ArrayOfTables(tables)) => tables,
        Some(_) => bail!("clients is not written as [[clients]] tables"),
    };
    Ok(tables
        .iter()
        .position(|table| text(table, "client_id") == Some(client_id)))
}

fn text<'a>(table: &'a Table, key: &str) -> Option<&'a str> {
    table.get(key)?.as_str()
}

fn texts<'a>(table: &'a Table, key: &str) -> Vec<&'a str> {
    table
        .get(key)
        .and_then(Item::as_array)
        .map(|array| array.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default()
}

/// The new `[[clients]]` table. `secret` is the generated secret of the secret methods;
/// only its hash goes into the table.
fn client_table(args: &ClientAddArgs, secret: Option<&str>) -> anyhow::Result<Table> {
    let mut table = Table::new();
    // A blank line before the new [[clients]] header, like the tables above it.
    table.decor_mut().set_prefix("\n");
    table.insert("client_id", value(&args.client_id));
    table.insert("name", value(&args.name));
    table.insert("redirect_uris", value(string_array(&args.redirect_uris)));
    table.insert("token_endpoint_auth_method", value(args.auth.as_str()));
    if let Some(secret) = secret {
        table.insert("client_secret_hash", value(hash_secret(secret)?));
    }
    if let Some(file) = &args.jwks_file {
        table.insert("jwks", value(read_jwks(file)?));
    }
    let subject_type = match args.subject_type {
        SubjectTypeArg::Pairwise => "pairwise",
        SubjectTypeArg::Public => "public",
    };
    table.insert("subject_type", value(subject_type));
    let scopes = if args.scopes.is_empty() {
        vec!["openid".to_owned()]
    } else {
        args.scopes.clone()
    };
    table.insert("scopes", value(string_array(&scopes)));
    if args.require_par {
        table.insert("require_par", value(true));
    }
    if !args.post_logout_redirect_uris.is_empty() {
        table.insert(
            "post_logout_redirect_uris",
            value(string_array(&args.post_logout_redirect_uris)),
        );
    }
    if args.client_credentials {
        table.insert("client_credentials", value(true));
    }
    Ok(table)
}

pub(crate) fn string_array(values: &[String]) -> toml_edit::Array {
    values.iter().map(String::as_str).collect()
}

fn read_jwks(file: &Path) -> anyhow::Result<String> {
    let size = std::fs::metadata(file)
        .with_context(|| format!("cannot read {}", file.display()))?
        .len();
    if size > MAX_JWKS_BYTES {
        bail!(
            "{} is larger than {MAX_JWKS_BYTES} bytes: not a client's JWKS",
            file.display()
        );
    }
    std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))
}

/// A new client secret: 32 bytes from the operating system's RNG, base64url.
fn generate_secret() -> anyhow::Result<Zeroizing<String>> {
    let mut bytes = Zeroizing::new([0u8; SECRET_BYTES]);
    SysRng
        .try_fill_bytes(bytes.as_mut())
        .map_err(|err| anyhow::anyhow!("the operating system's RNG failed: {err}"))?;
    Ok(Zeroizing::new(Base64UrlUnpadded::encode_string(
        bytes.as_ref(),
    )))
}

/// The secret's argon2id PHC string, with the OWASP parameters the configuration requires
/// of citizens' passwords.
fn hash_secret(secret: &str) -> anyhow::Result<String> {
    let min = MIN_PASSWORD_PARAMS;
    let params = Params::new(min.m_kib, min.t, min.p, None)
        .map_err(|err| anyhow::anyhow!("argon2 parameters: {err}"))?;
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(secret.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|err| anyhow::anyhow!("cannot hash the client secret: {err}"))
}

/// Validates the whole new file, then writes it atomically with the old file's mode.
pub(crate) fn write_validated(path: &Path, doc: &DocumentMut) -> anyhow::Result<()> {
    let text = doc.to_string();
    ToolSettings::parse(&text, |name| std::env::var(name).ok()).map_err(|err| {
        anyhow::anyhow!(
            "{} left unchanged: the result would be refused by `eid-server serve`: {err}",
            path.display()
        )
    })?;
    // Write through a symbolic link to its target rather than replacing the link.
    let target = std::fs::canonicalize(path)
        .with_context(|| format!("cannot resolve {}", path.display()))?;
    replace_file(&target, text.as_bytes())
        .with_context(|| format!("cannot write {}", target.display()))
}

/// Replaces `path` with `contents`: a temporary file in the same directory, flushed to
/// disk with the old file's permissions, then renamed over it.
fn replace_file(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_owned);
    let permissions = std::fs::metadata(path)?.permissions();
    let mut temp = tempfile::NamedTempFile::new_in(&dir)?;
    temp.write_all(contents)?;
    temp.as_file().set_permissions(permissions)?;
    temp.as_file().sync_all()?;
    temp.persist(path)?;
    // Make the rename itself durable.
    std::fs::File::open(&dir)?.sync_all()?;
    Ok(())
}
