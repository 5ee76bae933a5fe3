export default {
  app: { title: "MCS 任务管理", subtitle: "设备与外部服务的工作流" },
  nav: { workflows: "工作流", runs: "运行记录", api: "接口文档" },
};
