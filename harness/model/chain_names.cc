#include "harness/model/chain_names.h"

#include <openssl/evp.h>

#include <array>
#include <stdexcept>

namespace svcbench {

std::string HashPrefix16(std::string_view input) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int len = 0;
  if (EVP_Digest(input.data(), input.size(), digest.data(), &len, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("EVP_Digest(sha256) failed");
  }
  // 16 base32 characters need the first 80 bits (10 bytes) of the digest.
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string out(16, '\0');
  uint64_t hi = 0;
  for (int i = 0; i < 5; ++i) hi = (hi << 8) | digest[i];
  uint64_t lo = 0;
  for (int i = 5; i < 10; ++i) lo = (lo << 8) | digest[i];
  for (int i = 0; i < 8; ++i) {
    out[i] = kAlphabet[(hi >> (35 - 5 * i)) & 31];
    out[8 + i] = kAlphabet[(lo >> (35 - 5 * i)) & 31];
  }
  return out;
}

std::string ServiceChainName(std::string_view service_port_name, std::string_view protocol) {
  std::string in;
  in.reserve(service_port_name.size() + protocol.size());
  in.append(service_port_name).append(protocol);
  return "KUBE-SVC-" + HashPrefix16(in);
}

std::string EndpointChainName(std::string_view service_port_name, std::string_view protocol,
                              std::string_view endpoint) {
  std::string in;
  in.reserve(service_port_name.size() + protocol.size() + endpoint.size());
  in.append(service_port_name).append(protocol).append(endpoint);
  return "KUBE-SEP-" + HashPrefix16(in);
}

}  // namespace svcbench
