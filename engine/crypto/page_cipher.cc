#include "engine/crypto/page_cipher.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/format/varint.h"
#include "gcrypt.h"
#include "openssl/evp.h"
#include "openssl/rand.h"

namespace pgqrs::engine {
namespace {

constexpr char kMinGcryptVersion[] = "1.8.0";

// Key check value: the first 4 bytes of SHA-256(label || database id || key). It tells a wrong
// key from a damaged page 1 at open without revealing anything useful about the key.
uint32_t KeyCheck(const EncryptionKey& key, const std::array<uint8_t, kDatabaseIdBytes>& id) {
  static constexpr char kLabel[] = "pgqrs engine key check v1";
  uint8_t digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  EVP_DigestInit_ex(md, EVP_sha256(), nullptr);
  EVP_DigestUpdate(md, kLabel, sizeof(kLabel) - 1);
  EVP_DigestUpdate(md, id.data(), id.size());
  EVP_DigestUpdate(md, key.bytes(), kKeyBytes);
  EVP_DigestFinal_ex(md, digest, &len);
  EVP_MD_CTX_free(md);
  return Get32(digest);
}

// Adds 1 to a big-endian counter, wrapping at 2^96.
void IncrementBigEndian(std::array<uint8_t, kNonceBytes>* n) {
  for (int i = kNonceBytes - 1; i >= 0; --i) {
    if (++(*n)[i] != 0) return;
  }
}

absl::Status CryptoError(const char* what) {
  return absl::InternalError(absl::StrCat("AES-256-GCM: ", what, " failed"));
}

// libgcrypt must be initialized once per process before use. The engine uses no gcrypt
// secure memory (keys live in EncryptionKey's locked mapping), so it is switched off. If the
// embedding application initialized libgcrypt itself, its setup stands.
absl::Status InitGcrypt() {
  static const bool ok = [] {
    if (gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P)) return true;
    if (gcry_check_version(kMinGcryptVersion) == nullptr) return false;
    gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
    gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
    return true;
  }();
  if (!ok)
    return absl::FailedPreconditionError(
        absl::StrCat("libgcrypt ", kMinGcryptVersion, " or newer is needed"));
  return absl::OkStatus();
}

}  // namespace

absl::Status InitEncryptionHeader(const EncryptionKey& key, uint32_t key_id, DbHeader* header) {
  header->reserved = kCipherReservedBytes;
  do {
    if (RAND_bytes(header->database_id.data(), kDatabaseIdBytes) != 1) {
      return CryptoError("random database id");
    }
  } while (!header->encrypted());  // an all-zero id would mean "not encrypted"
  SetHeaderKey(key, key_id, header);
  return absl::OkStatus();
}

void SetHeaderKey(const EncryptionKey& key, uint32_t key_id, DbHeader* header) {
  header->key_id = key_id;
  header->key_check = KeyCheck(key, header->database_id);
}

absl::Status CheckKeyMatchesHeader(const DbHeader& header, const EncryptionKey* key,
                                   uint32_t key_id) {
  if (!header.encrypted()) {
    if (key == nullptr) return absl::OkStatus();
    return absl::FailedPreconditionError(
        "database is not encrypted, but an encryption key was given");
  }
  if (key == nullptr) {
    return absl::FailedPreconditionError("database is encrypted and no encryption key was given");
  }
  if (header.reserved != kCipherReservedBytes) {
    return absl::DataLossError(absl::StrCat("encrypted database has ", header.reserved,
                                            " reserved bytes per page, not ",
                                            kCipherReservedBytes));
  }
  if (header.key_id != key_id) {
    return absl::PermissionDeniedError(
        absl::StrCat("database is encrypted with key id ", header.key_id, ", not key id ", key_id));
  }
  if (header.key_check != KeyCheck(*key, header.database_id)) {
    return absl::PermissionDeniedError("wrong encryption key for this database");
  }
  return absl::OkStatus();
}

PageCipher::PageCipher(std::shared_ptr<const EncryptionKey> key, const DbHeader& header)
    : key_(std::move(key)),
      page_size_(header.page_size),
      usable_size_(header.usable_size()),
      database_id_(header.database_id),
      key_id_(header.key_id) {}

PageCipher::~PageCipher() {
  gcry_cipher_close(enc_);  // also wipes the expanded key schedule
  gcry_cipher_close(dec_);
}

absl::StatusOr<std::unique_ptr<PageCipher>> PageCipher::Create(
    std::shared_ptr<const EncryptionKey> key, const DbHeader& header) {
  if (!header.encrypted() || header.reserved != kCipherReservedBytes) {
    return absl::InvalidArgumentError("page cipher needs an encrypted database header");
  }
  PGQRS_RETURN_IF_ERROR(InitGcrypt());
  std::unique_ptr<PageCipher> c(new PageCipher(std::move(key), header));
  if (RAND_bytes(c->next_nonce_.data(), kNonceBytes) != 1) return CryptoError("random nonce");
  // The key schedule is computed once here; each page only sets its nonce.
  for (gcry_cipher_hd_t* h : {&c->enc_, &c->dec_}) {
    if (gcry_cipher_open(h, GCRY_CIPHER_AES256, GCRY_CIPHER_MODE_GCM, 0) != 0) {
      return CryptoError("context allocation");
    }
    if (gcry_cipher_setkey(*h, c->key_->bytes(), kKeyBytes) != 0) return CryptoError("key setup");
  }
  return c;
}

PageCipher::Aad PageCipher::AadOf(uint32_t pgno, const uint8_t* page) const {
  Aad aad;
  Put32(aad.bytes.data(), pgno);
  std::memcpy(aad.bytes.data() + 4, database_id_.data(), kDatabaseIdBytes);
  Put32(aad.bytes.data() + 4 + kDatabaseIdBytes, key_id_);
  aad.size = kAadBytes;
  if (pgno == 1) {  // the clear header is authenticated instead of encrypted
    std::memcpy(aad.bytes.data() + kAadBytes, page, kDbHeaderSize);
    aad.size += kDbHeaderSize;
  }
  return aad;
}

absl::Status PageCipher::Seal(uint32_t pgno, const uint8_t* plain, uint8_t* sealed) {
  const uint32_t start = pgno == 1 ? kDbHeaderSize : 0;
  uint8_t* nonce = sealed + usable_size_;
  uint8_t* tag = nonce + kNonceBytes;
  if (plain != sealed) std::memcpy(sealed, plain, start);
  std::memcpy(nonce, next_nonce_.data(), kNonceBytes);
  IncrementBigEndian(&next_nonce_);
  const Aad aad = AadOf(pgno, plain);
  // A null input encrypts in place (gcrypt's rule for in == out).
  const uint8_t* in = plain == sealed ? nullptr : plain + start;
  const size_t in_size = in == nullptr ? 0 : usable_size_ - start;
  if (gcry_cipher_setiv(enc_, nonce, kNonceBytes) != 0 ||
      gcry_cipher_authenticate(enc_, aad.bytes.data(), aad.size) != 0 ||
      gcry_cipher_final(enc_) != 0 ||
      gcry_cipher_encrypt(enc_, sealed + start, usable_size_ - start, in, in_size) != 0 ||
      gcry_cipher_gettag(enc_, tag, kTagBytes) != 0) {
    return CryptoError("encryption");
  }
  return absl::OkStatus();
}

absl::Status PageCipher::Open(uint32_t pgno, uint8_t* page) {
  absl::MutexLock l(&dec_mu_);  // the writer and snapshot readers share the context
  const uint32_t start = pgno == 1 ? kDbHeaderSize : 0;
  const uint8_t* nonce = page + usable_size_;
  const Aad aad = AadOf(pgno, page);
  if (gcry_cipher_setiv(dec_, nonce, kNonceBytes) != 0 ||
      gcry_cipher_authenticate(dec_, aad.bytes.data(), aad.size) != 0 ||
      gcry_cipher_final(dec_) != 0 ||
      gcry_cipher_decrypt(dec_, page + start, usable_size_ - start, nullptr, 0) != 0) {
    return CryptoError("decryption");
  }
  const gcry_error_t checked = gcry_cipher_checktag(dec_, nonce + kNonceBytes, kTagBytes);
  if (gcry_err_code(checked) == GPG_ERR_CHECKSUM) {
    return absl::DataLossError(absl::StrCat("page ", pgno, " fails authentication"));
  }
  if (checked != 0) return CryptoError("decryption");
  return absl::OkStatus();
}

}  // namespace pgqrs::engine
