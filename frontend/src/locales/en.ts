export default {
  app: { title: "MCS task management", subtitle: "Workflows for devices and external services" },
  nav: { workflows: "Workflows", runs: "Runs", api: "API docs" },
};
