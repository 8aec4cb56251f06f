// webpki-verify ROOT.der LEAF.der [INTERMEDIATE.der…]: verify a device leaf as a TLS client
// certificate with webpki 0.22 (rustls's verifier before rustls-webpki forked it), at the
// current time. Prints "admitted" or "refused: <webpki error>"; exit 0 or 1.
use std::convert::TryFrom;

fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| {
        eprintln!("webpki-verify: {}: {}", path, e);
        std::process::exit(2)
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: webpki-verify ROOT.der LEAF.der [INTERMEDIATE.der…]");
        std::process::exit(2);
    }
    let root = read(&args[1]);
    let leaf = read(&args[2]);
    let inter: Vec<Vec<u8>> = args[3..].iter().map(|p| read(p)).collect();
    let inter_refs: Vec<&[u8]> = inter.iter().map(|v| v.as_slice()).collect();
    let anchor = match webpki::TrustAnchor::try_from_cert_der(&root) {
        Ok(a) => a,
        Err(e) => {
            println!("refused: root: {:?}", e);
            std::process::exit(1)
        }
    };
    let anchors = [anchor];
    let cert = match webpki::EndEntityCert::try_from(leaf.as_slice()) {
        Ok(c) => c,
        Err(e) => {
            println!("refused: leaf: {:?}", e);
            std::process::exit(1)
        }
    };
    let algs = [
        &webpki::ECDSA_P256_SHA256,
        &webpki::ECDSA_P256_SHA384,
        &webpki::ECDSA_P384_SHA256,
        &webpki::ECDSA_P384_SHA384,
        &webpki::ED25519,
        &webpki::RSA_PKCS1_2048_8192_SHA256,
        &webpki::RSA_PKCS1_2048_8192_SHA384,
        &webpki::RSA_PKCS1_2048_8192_SHA512,
        &webpki::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
    ];
    let now = webpki::Time::try_from(std::time::SystemTime::now()).expect("clock");
    match cert.verify_is_valid_tls_client_cert(
        &algs,
        &webpki::TlsClientTrustAnchors(&anchors),
        &inter_refs,
        now,
    ) {
        Ok(()) => println!("admitted"),
        Err(e) => {
            println!("refused: {:?}", e);
            std::process::exit(1)
        }
    }
}
