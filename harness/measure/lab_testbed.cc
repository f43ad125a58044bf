#include "harness/measure/lab_testbed.h"

#include <fmt/format.h>

#include "harness/lab/lab.h"

namespace svcbench {
namespace {

class LabTestbed : public Testbed {
 public:
  LabTestbed(const LabOptions& lab_opts, const std::string& backend, DriverContext ctx)
      : lab_opts_(lab_opts), lab_(lab_opts) {
    ctx.netns_fd = lab_.NodeFd();
    ctx.netns_name = lab_.NodeNs();
    ctx_ = ctx;
    driver_ = MakeDriver(backend, ctx);
    if (!driver_) throw DriverError(fmt::format("backend {} is not implemented yet", backend));
  }
  ~LabTestbed() override {
    // The driver's state lives in the node namespace; removing the lab removes it all, so the
    // driver is dropped first and never talks to a namespace that is gone.
    driver_.reset();
  }
  Driver& driver() override { return *driver_; }
  Lab* lab() override { return &lab_; }
  Lab* reference_lab() override {
    if (!reference_) {
      LabOptions opts = lab_opts_;
      opts.tag += "r";
      reference_ = std::make_unique<Lab>(opts);
    }
    return reference_.get();
  }
  DriverContext context() const override { return ctx_; }

 private:
  LabOptions lab_opts_;
  Lab lab_;
  std::unique_ptr<Lab> reference_;  // no driver ever touches its node
  DriverContext ctx_;
  std::unique_ptr<Driver> driver_;
};

}  // namespace

TestbedFactory MakeLabTestbedFactory(LabTestbedOptions opts) {
  return [opts](const std::string& backend, int index,
                const GeneratorSpec& spec) -> std::unique_ptr<Testbed> {
    if (const Availability a = ProbeBackend(backend); !a.available) {
      throw DriverError(fmt::format("{} is unavailable here: {}", backend, a.reason));
    }
    LabOptions lab;
    lab.run_id = opts.run_id;
    lab.tag = fmt::format("l{}", index);
    const auto ports = TargetPorts(spec);
    (spec.protocol == Protocol::kUdp ? lab.udp_ports : lab.tcp_ports) = ports;
    DriverContext ctx;
    ctx.xtables_lockfile = opts.xtables_lockfile;
    ctx.lock_wait_s = opts.lock_wait_s;
    ctx.commit_timeout_s = opts.commit_timeout_s;
    return std::make_unique<LabTestbed>(lab, backend, ctx);
  };
}

}  // namespace svcbench
