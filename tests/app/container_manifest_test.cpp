// The container image as an operator deploys it: the Kubernetes manifests of docker/k8s (the
// configuration they carry is valid, is mounted where the entry point reads it, and every port
// agrees with it) and docker/entrypoint.sh (which mode it picks for which capabilities, and the
// configuration it hands flowgate). The manifests are read with python3-yaml into JSON.

#include <gtest/gtest.h>
#include <simdjson.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "config/config_loader.hpp"
#include "tests/support/collector_harness.hpp"
#include "tests/support/corpus.hpp"
#include "tests/support/temp_dir.hpp"

namespace flowgate {
namespace {

namespace fs = std::filesystem;
using simdjson::dom::element;

const fs::path kSource = FLOWGATE_SOURCE_DIR;
const fs::path kEntrypoint = kSource / "docker/entrypoint.sh";
constexpr const char* kMountedConfig = "/etc/flowgate/flowgate.conf";  // the entry point's

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs a shell command with stdout and stderr captured in `dir`.
Result run(const std::string& command, const fs::path& dir) {
  const fs::path out = dir / "stdout";
  const fs::path err = dir / "stderr";
  const std::string line = command + " >" + out.string() + " 2>" + err.string();
  const int status = std::system(line.c_str());
  Result r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = testing::read_text(out);
  r.err = testing::read_text(err);
  return r;
}

void write_file(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

std::string str(element e) { return std::string(std::string_view(e.get_string())); }

// Every document of docker/k8s/*.yaml, parsed once.
class ContainerManifests : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    testing::TempDir dir("flowgate-k8s-");
    const Result r = run(
        "python3 -c 'import sys, json, yaml; json.dump([d for f in sorted(sys.argv[1:]) "
        "for d in yaml.safe_load_all(open(f)) if d], sys.stdout)' " +
            (kSource / "docker/k8s").string() + "/*.yaml",
        dir.path());
    ASSERT_EQ(r.exit_code, 0) << "python3 with python3-yaml (scripts/setup.sh) reads the "
                                 "manifests: "
                              << r.err;
    json_ = new std::string(r.out);
    parser_ = new simdjson::dom::parser;
    ASSERT_EQ(parser_->parse(*json_).get(documents_), simdjson::SUCCESS);
  }

  static element kind(const std::string& name) {
    for (element d : documents_.get_array()) {
      if (str(d["kind"]) == name) return d;
    }
    ADD_FAILURE() << "no " << name << " in docker/k8s";
    return documents_;
  }

  static element container(const std::string& workload) {
    return kind(workload)["spec"]["template"]["spec"]["containers"].at(0);
  }

  static std::string embedded_config() { return str(kind("ConfigMap")["data"]["flowgate.conf"]); }

  static config::Config loaded_config() {
    const config::LoadResult r = config::load_config_string(embedded_config(), "flowgate.conf");
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.errors.front().message);
    return r.config;
  }

  static std::set<uint16_t> listener_ports() {
    std::set<uint16_t> ports;
    for (const config::Listener& l : loaded_config().listeners) ports.insert(l.port);
    return ports;
  }

  static uint16_t metrics_port() {
    const std::string listen = loaded_config().metrics.listen;
    return static_cast<uint16_t>(std::stoi(listen.substr(listen.rfind(':') + 1)));
  }

  // containerPort of the container's port `name`, 0 when it has none.
  static int64_t named_port(element c, const std::string& name) {
    for (element p : c["ports"].get_array()) {
      if (str(p["name"]) == name) return int64_t(p["containerPort"]);
    }
    return 0;
  }

  static element documents() { return documents_; }

 private:
  static inline std::string* json_ = nullptr;  // kept for the suite: documents_ points into it
  static inline simdjson::dom::parser* parser_ = nullptr;
  static inline element documents_;
};

TEST_F(ContainerManifests, HoldAConfigMapADeploymentItsServiceAndADaemonSet) {
  std::multiset<std::string> kinds;
  for (element d : documents().get_array()) kinds.insert(str(d["kind"]));
  EXPECT_EQ(kinds, (std::multiset<std::string>{"ConfigMap", "DaemonSet", "Deployment", "Service"}));
}

TEST_F(ContainerManifests, ConfigMapConfigurationPassesCheckConfig) {
  testing::TempDir dir;
  const fs::path conf = fs::path(dir.path()) / "flowgate.conf";
  write_file(conf, embedded_config());
  const Result r = run(std::string(FLOWGATE_BINARY) + " -c " + conf.string() + " --check-config",
                       dir.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "ok\n");
}

TEST_F(ContainerManifests, BrokenCopyFailsNamingFileAndLine) {
  std::string text = embedded_config();
  const std::string ipfix_port = "port      = 4739";
  const size_t at = text.find(ipfix_port);
  ASSERT_NE(at, std::string::npos);
  text.replace(at, ipfix_port.size(), "port      = 70000");
  const auto line = 1 + std::count(text.begin(), text.begin() + static_cast<long>(at), '\n');
  testing::TempDir dir;
  const fs::path conf = fs::path(dir.path()) / "flowgate.conf";
  write_file(conf, text);
  const Result r = run(std::string(FLOWGATE_BINARY) + " -c " + conf.string() + " --check-config",
                       dir.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(conf.string() + ":" + std::to_string(line) + ":"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("70000 is out of range"), std::string::npos) << r.err;
}

TEST_F(ContainerManifests, ConfigMapIsMountedWhereTheEntrypointReadsIt) {
  ASSERT_NE(testing::read_text(kEntrypoint).find(kMountedConfig), std::string::npos);
  const std::string map_name = str(kind("ConfigMap")["metadata"]["name"]);
  for (const char* workload : {"Deployment", "DaemonSet"}) {
    SCOPED_TRACE(workload);
    const element pod = kind(workload)["spec"]["template"]["spec"];
    std::string volume;
    std::string file;
    for (element v : pod["volumes"].get_array()) {
      element map;
      if (v["configMap"].get(map) != simdjson::SUCCESS || str(map["name"]) != map_name) continue;
      volume = str(v["name"]);
      for (element item : map["items"].get_array()) {
        if (str(item["key"]) == "flowgate.conf") file = str(item["path"]);
      }
    }
    ASSERT_FALSE(volume.empty()) << "no volume of ConfigMap " << map_name;
    std::set<std::string> mounted;
    for (element m : container(workload)["volumeMounts"].get_array()) {
      if (str(m["name"]) == volume) mounted.insert(str(m["mountPath"]) + "/" + file);
    }
    EXPECT_EQ(mounted, std::set<std::string>{kMountedConfig});
  }
}

TEST_F(ContainerManifests, ContainerPortsAreTheConfiguredListenerPorts) {
  const std::set<uint16_t> listeners = listener_ports();
  EXPECT_EQ(listeners, (std::set<uint16_t>{2055, 4739, 6343}));
  for (const char* workload : {"Deployment", "DaemonSet"}) {
    SCOPED_TRACE(workload);
    std::set<uint16_t> udp;
    std::set<uint16_t> tcp;
    for (element p : container(workload)["ports"].get_array()) {
      const auto port = static_cast<uint16_t>(int64_t(p["containerPort"]));
      (str(p["protocol"]) == "UDP" ? udp : tcp).insert(port);
    }
    EXPECT_EQ(udp, listeners);
    EXPECT_EQ(tcp, std::set<uint16_t>{metrics_port()});
  }
}

TEST_F(ContainerManifests, ServiceForwardsEveryListenerPortOverUdpToTheDeployment) {
  const element service = kind("Service");
  const element deployment = container("Deployment");
  std::set<uint16_t> ports;
  for (element p : service["spec"]["ports"].get_array()) {
    EXPECT_EQ(str(p["protocol"]), "UDP");
    const auto port = static_cast<uint16_t>(int64_t(p["port"]));
    ports.insert(port);
    EXPECT_EQ(named_port(deployment, str(p["targetPort"])), port) << str(p["targetPort"]);
  }
  EXPECT_EQ(ports, listener_ports());
  // The exporter's own address is the record's exporter.ip and keys its templates: no SNAT.
  EXPECT_EQ(str(service["spec"]["externalTrafficPolicy"]), "Local");
  const element labels = kind("Deployment")["spec"]["template"]["metadata"]["labels"];
  for (auto [key, value] : service["spec"]["selector"].get_object()) {
    EXPECT_EQ(str(labels[key]), str(value)) << key;
  }
}

TEST_F(ContainerManifests, DaemonSetReadsANamedInterfaceWithHostNetworkAndNetRawOnly) {
  const element pod = kind("DaemonSet")["spec"]["template"]["spec"];
  EXPECT_TRUE(bool(pod["hostNetwork"]));
  const element c = container("DaemonSet");
  std::string interface;
  for (element e : c["env"].get_array()) {
    if (str(e["name"]) == "FLOWGATE_INTERFACE") interface = str(e["value"]);
  }
  EXPECT_FALSE(interface.empty()) << "FLOWGATE_INTERFACE names the interface for af_packet mode";
  const element security = c["securityContext"];
  std::vector<std::string> added;
  for (element a : security["capabilities"]["add"].get_array()) added.push_back(str(a));
  EXPECT_EQ(added, std::vector<std::string>{"NET_RAW"});
  EXPECT_EQ(str(security["capabilities"]["drop"].at(0)), "ALL");
  // Capabilities reach uid 0 only (no ambient capabilities in Kubernetes).
  EXPECT_EQ(int64_t(security["runAsUser"]), 0);
}

TEST_F(ContainerManifests, ProbesAskTheMetricsEndpointForHealthz) {
  const std::string listen = loaded_config().metrics.listen;
  EXPECT_EQ(listen.substr(0, listen.rfind(':')), "0.0.0.0") << "probes come to the pod address";
  for (const char* workload : {"Deployment", "DaemonSet"}) {
    SCOPED_TRACE(workload);
    const element c = container(workload);
    for (const char* probe : {"readinessProbe", "livenessProbe"}) {
      SCOPED_TRACE(probe);
      const element get = c[probe]["httpGet"];
      EXPECT_EQ(str(get["path"]), "/healthz");
      EXPECT_EQ(named_port(c, str(get["port"])), metrics_port());
    }
  }
}

// The entry point's dry run with an injected /proc/self/status, so any user can run it.
class ContainerEntrypoint : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = dir_holder_.path();
    config_ = dir_ / "mounted.conf";
    write_file(config_, testing::read_text(kSource / "config/flowgate.conf"));
  }

  // CapEff and CapBnd as /proc/self/status writes them; Uid's second field is the effective.
  void status(const std::string& cap_eff, const std::string& cap_bnd, int uid) {
    const std::string u = std::to_string(uid);
    write_file(dir_ / "status", "Name:\tsh\nUid:\t" + u + "\t" + u + "\t" + u + "\t" + u +
                                    "\nCapInh:\t0000000000000000\nCapPrm:\t" + cap_eff +
                                    "\nCapEff:\t" + cap_eff + "\nCapBnd:\t" + cap_bnd + "\n");
  }

  Result dry_run(const std::string& env) {
    return run("env FLOWGATE_BIN=" + std::string(FLOWGATE_BINARY) +
                   " FLOWGATE_CONFIG=" + config_.string() + " FLOWGATE_RUN_DIR=" +
                   (dir_ / "run").string() + " FLOWGATE_PROC_STATUS=" + (dir_ / "status").string() +
                   " " + env + " sh " + kEntrypoint.string() + " --dry-run",
               dir_);
  }

  // The configuration file of the command the dry run prints.
  static std::string config_of(const Result& r) {
    const size_t at = r.out.find(" -c ");
    return at == std::string::npos ? "" : r.out.substr(at + 4, r.out.find_first_of(" \n", at + 4) - at - 4);
  }

  static constexpr const char* kNetRaw = "0000000000002000";  // bit 13
  static constexpr const char* kNone = "0000000000000000";

  testing::TempDir dir_holder_;
  fs::path dir_;
  fs::path config_;
};

TEST_F(ContainerEntrypoint, PicksAfPacketWithAnInterfaceAndNetRaw) {
  status(kNetRaw, kNetRaw, 0);
  const Result r = dry_run("FLOWGATE_INTERFACE=eth1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("entrypoint: af_packet mode on eth1: FLOWGATE_INTERFACE=eth1 and "
                       "CAP_NET_RAW is in the effective capability set"),
            std::string::npos)
      << r.err;
  const config::LoadResult given = config::load_config_file(config_.string());
  const config::LoadResult used = config::load_config_file(config_of(r));
  ASSERT_TRUE(used.ok()) << r.out;
  EXPECT_EQ(used.config.collector.mode, config::Mode::kAfPacket);
  EXPECT_EQ(used.config.collector.af_packet.interface, "eth1");
  ASSERT_EQ(used.config.listeners.size(), given.config.listeners.size());
  for (size_t i = 0; i < used.config.listeners.size(); ++i) {
    EXPECT_EQ(used.config.listeners[i].port, given.config.listeners[i].port);
  }
  EXPECT_EQ(used.config.metrics.listen, given.config.metrics.listen);
}

TEST_F(ContainerEntrypoint, StaysInSocketModeWithoutNetRawAndSaysHowToGrantIt) {
  status(kNone, "000001ffffffffff", 10001);  // the image's user: the capability is bounding only
  Result r = dry_run("FLOWGATE_INTERFACE=eth1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("entrypoint: socket mode: FLOWGATE_INTERFACE=eth1 but CAP_NET_RAW is not "
                       "in the effective capability set"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("runs as uid 10001"), std::string::npos) << r.err;
  EXPECT_EQ(config_of(r), config_.string()) << "the file already says socket: used as it is";

  status(kNone, "000001fffeffdfff", 0);  // root without it: --cap-drop NET_RAW
  r = dry_run("FLOWGATE_INTERFACE=eth1");
  EXPECT_NE(r.err.find("--cap-add NET_RAW"), std::string::npos) << r.err;
}

TEST_F(ContainerEntrypoint, StaysInSocketModeWithoutAnInterface) {
  status(kNetRaw, kNetRaw, 0);
  write_file(config_, "[[inputs.netflow]]\n[[inputs.netflow.listeners]]\nflow_type = \"ipfix\"\n"
                      "[collector]\nmode = \"af_packet\"\n");
  const Result r = dry_run("");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("entrypoint: socket mode: FLOWGATE_INTERFACE is not set"),
            std::string::npos)
      << r.err;
  const config::LoadResult used = config::load_config_file(config_of(r));
  ASSERT_TRUE(used.ok());
  EXPECT_EQ(used.config.collector.mode, config::Mode::kSocket);
}

TEST_F(ContainerEntrypoint, AddsTheTablesAFileWithoutThemLacks) {
  status(kNetRaw, kNetRaw, 0);
  write_file(config_, "[[inputs.netflow]]\n[[inputs.netflow.listeners]]\nflow_type = \"ipfix\"\n");
  const Result r = dry_run("FLOWGATE_INTERFACE=eth1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const config::LoadResult used = config::load_config_file(config_of(r));
  ASSERT_TRUE(used.ok()) << testing::read_text(config_of(r));
  EXPECT_EQ(used.config.collector.mode, config::Mode::kAfPacket);
  EXPECT_EQ(used.config.collector.af_packet.interface, "eth1");
}

TEST_F(ContainerEntrypoint, ReportsAMistakeInTheMountedFileByItsOwnNameAndLine) {
  status(kNetRaw, kNetRaw, 0);
  write_file(config_, "[[inputs.netflow]]\n[[inputs.netflow.listeners]]\nflow_type = \"ipfix\"\n"
                      "port = 70000\n");
  const Result r = dry_run("FLOWGATE_INTERFACE=eth1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(config_.string() + ":4:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("flowgate was not started"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST_F(ContainerEntrypoint, RefusesAnUnknownModeAndAnInterfaceNameItCannotQuote) {
  status(kNetRaw, kNetRaw, 0);
  Result r = dry_run("FLOWGATE_MODE=fast");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("expected auto, socket, af_packet or config"), std::string::npos) << r.err;
  r = dry_run("FLOWGATE_INTERFACE='eth0\"'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("expected an interface name"), std::string::npos) << r.err;
}

// The real thing on this host: the entry point execs flowgate, which reads loopback through a
// packet ring, serves /healthz and stops cleanly on SIGTERM.
TEST(ContainerEntrypointLive, RunsFlowgateInAfPacketModeWhenItHasNetRaw) {
  if (getuid() != 0) GTEST_SKIP() << "needs root for CAP_NET_RAW";
  testing::TempDir dir;
  const fs::path d = dir.path();
  const uint16_t metrics = testing::free_port(SOCK_STREAM);
  write_file(d / "flowgate.conf",
             "[[inputs.netflow]]\n[[inputs.netflow.listeners]]\nflow_type = \"netflow9\"\n"
             "port = " + std::to_string(testing::free_udp_port()) +
                 "\n[metrics]\nlisten = \"127.0.0.1:" + std::to_string(metrics) + "\"\n");
  testing::Child child;
  // The harness puts FLOWGATE_BINARY first; the entry point takes it as FLOWGATE_BIN instead.
  ASSERT_TRUE(child.start({}, d / "out", d / "err",
                          {"env", "FLOWGATE_BIN=" + std::string(FLOWGATE_BINARY),
                           "FLOWGATE_CONFIG=" + (d / "flowgate.conf").string(),
                           "FLOWGATE_RUN_DIR=" + (d / "run").string(), "FLOWGATE_INTERFACE=lo",
                           "sh", "-c", "shift; exec sh \"$0\" \"$@\"", kEntrypoint.string()}));
  EXPECT_TRUE(testing::wait_for([&] { return testing::http_get(metrics, "/healthz").status == 200; }))
      << testing::read_text(d / "err");
  child.signal(SIGTERM);
  EXPECT_EQ(child.wait_exit(), 0);
  const std::string err = testing::read_text(d / "err");
  EXPECT_NE(err.find("entrypoint: af_packet mode on lo"), std::string::npos) << err;
  EXPECT_NE(err.find("af_packet mode: interface lo"), std::string::npos) << err;
}

}  // namespace
}  // namespace flowgate
